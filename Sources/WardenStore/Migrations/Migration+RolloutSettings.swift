import SQLKit

extension Migration {
    /// 7: per-tenant quality-gate thresholds for canaries.
    static let rolloutSettings = Migration(
        version: 7,
        name: "rollout_settings",
        up: { db in
            try await db.alter(table: "tenants").column("rollout_settings", type: .text).run()
        },
        down: { db in
            try await db.raw("ALTER TABLE tenants DROP COLUMN rollout_settings").run()
        }
    )
}
