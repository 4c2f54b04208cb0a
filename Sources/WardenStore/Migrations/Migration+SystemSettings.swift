import SQLKit

extension Migration {
    /// 6: system-wide settings (the emergency policy bypass), shared by every replica.
    static let systemSettings = Migration(
        version: 6,
        name: "system_settings",
        up: { db in
            try await db.create(table: "system_settings")
                .column("key", type: .text, .primaryKey(autoIncrement: false))
                .column("value", type: .text, .notNull)
                .column("updated_by", type: .text, .notNull)
                .column("updated_at", type: .text, .notNull)
                .run()
        },
        down: { db in
            try await db.drop(table: "system_settings").run()
        }
    )
}
