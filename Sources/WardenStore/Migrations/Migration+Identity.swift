import SQLKit

extension Migration {
    /// 1: tenants, API keys and audit events.
    static let identity = Migration(
        version: 1,
        name: "identity",
        up: { db in
            try await db.create(table: "tenants")
                .column("id", type: .text, .primaryKey(autoIncrement: false))
                .column("slug", type: .text, .notNull, .unique)
                .column("name", type: .text, .notNull)
                .column("created_at", type: .text, .notNull)
                .run()
            try await db.create(table: "api_keys")
                .column("id", type: .text, .primaryKey(autoIncrement: false))
                .column("name", type: .text, .notNull)
                .column("role", type: .text, .notNull)
                .column("tenant_id", type: .text, .references("tenants", "id"))
                .column("prefix", type: .text, .notNull)
                .column("key_hash", type: .text, .notNull, .unique)
                .column("created_at", type: .text, .notNull)
                .column("created_by", type: .text)
                .column("revoked_at", type: .text)
                .run()
            try await db.create(index: "api_keys_tenant_created").on("api_keys").column("tenant_id").column("created_at").run()
            try await db.create(table: "audit_events")
                .column("id", type: .text, .primaryKey(autoIncrement: false))
                .column("tenant_id", type: .text)
                .column("actor", type: .text, .notNull)
                .column("action", type: .text, .notNull)
                .column("target", type: .text, .notNull)
                .column("reason", type: .text)
                .column("details", type: .text, .notNull)
                .column("created_at", type: .text, .notNull)
                .run()
            try await db.create(index: "audit_events_tenant_created").on("audit_events").column("tenant_id").column("created_at").run()
            try await db.create(index: "audit_events_created").on("audit_events").column("created_at").run()
        },
        down: { db in
            try await db.drop(table: "audit_events").run()
            try await db.drop(table: "api_keys").run()
            try await db.drop(table: "tenants").run()
        }
    )
}
