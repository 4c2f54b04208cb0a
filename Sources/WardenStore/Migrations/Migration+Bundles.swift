import SQLKit

extension Migration {
    /// 3: policy bundles; decisions record the deciding bundle's id.
    static let bundles = Migration(
        version: 3,
        name: "bundles",
        up: { db in
            try await db.create(table: "bundles")
                .column("id", type: .text, .primaryKey(autoIncrement: false))
                .column("tenant_id", type: .text, .notNull, .references("tenants", "id"))
                .column("version", type: .text, .notNull)
                .column("status", type: .text, .notNull)
                .column("modules", type: .text, .notNull)
                .column("data", type: .text, .notNull)
                .column("rules", type: .text, .notNull)
                .column("opa", type: .text)
                .column("entrypoint", type: .text, .notNull)
                .column("default_effect", type: .text, .notNull)
                .column("notes", type: .text)
                .column("created_by", type: .text, .notNull)
                .column("created_at", type: .text, .notNull)
                .column("updated_at", type: .text, .notNull)
                .column("activated_at", type: .text)
                .column("activated_by", type: .text)
                .unique("tenant_id", "version")
                .run()
            try await db.create(index: "bundles_tenant_status").on("bundles").column("tenant_id").column("status").run()
            try await db.alter(table: "decisions").column("bundle_id", type: .text).run()
            try await db.create(index: "decisions_tenant_bundle").on("decisions").column("tenant_id").column("bundle").run()
        },
        down: { db in
            try await db.drop(index: "decisions_tenant_bundle").run()
            try await db.raw("ALTER TABLE decisions DROP COLUMN bundle_id").run()
            try await db.drop(table: "bundles").run()
        }
    )
}
