import SQLKit

extension Migration {
    /// 9: the tenant switch that forces manual approval everywhere (the runbook's "disable auto-approve").
    static let manualApproval = Migration(
        version: 9,
        name: "manual_approval",
        up: { db in
            try await db.alter(table: "tenants").column("force_manual_approval", type: .bigint, .notNull, .default(0)).run()
        },
        down: { db in
            try await db.raw("ALTER TABLE tenants DROP COLUMN force_manual_approval").run()
        }
    )
}
