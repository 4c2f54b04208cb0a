import SQLKit

extension Migration {
    /// 5: incidents (`INC-YYYY-NNNN` per tenant), and the tenant's notification URL for rollout webhooks.
    static let incidents = Migration(
        version: 5,
        name: "incidents",
        up: { db in
            try await db.create(table: "incidents")
                .column("id", type: .text, .primaryKey(autoIncrement: false))
                .column("tenant_id", type: .text, .notNull, .references("tenants", "id"))
                .column("number", type: .text, .notNull)
                .column("severity", type: .text, .notNull)
                .column("source", type: .text, .notNull)
                .column("title", type: .text, .notNull)
                .column("status", type: .text, .notNull)
                .column("bundle_id", type: .text)
                .column("action", type: .text)
                .column("details", type: .text, .notNull)
                .column("created_by", type: .text, .notNull)
                .column("created_at", type: .text, .notNull)
                .unique("tenant_id", "number")
                .run()
            try await db.create(index: "incidents_tenant_created").on("incidents").column("tenant_id").column("created_at").run()
            try await db.alter(table: "tenants").column("notification_url", type: .text).run()
        },
        down: { db in
            try await db.raw("ALTER TABLE tenants DROP COLUMN notification_url").run()
            try await db.drop(index: "incidents_tenant_created").run()
            try await db.drop(table: "incidents").run()
        }
    )
}
