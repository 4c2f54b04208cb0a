import SQLKit

extension Migration {
    /// 18: tenants' notification webhooks for operational events.
    static let notifications = Migration(
        version: 18,
        name: "notification_webhooks",
        up: { db in
            try await db.create(table: "notification_webhooks")
                .column("id", type: .text, .primaryKey(autoIncrement: false))
                .column("tenant_id", type: .text, .notNull, .references("tenants", "id"))
                .column("url", type: .text, .notNull)
                .column("events", type: .text, .notNull)
                .column("format", type: .text, .notNull)
                .column("created_by", type: .text, .notNull)
                .column("created_at", type: .text, .notNull)
                .run()
            try await db.create(index: "notification_webhooks_tenant").on("notification_webhooks").column("tenant_id").run()
        },
        down: { db in
            try await db.drop(index: "notification_webhooks_tenant").run()
            try await db.drop(table: "notification_webhooks").run()
        }
    )
}
