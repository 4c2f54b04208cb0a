import SQLKit

extension Migration {
    /// 17: a tenant's rate limits and its panic mode.
    static let guardrails = Migration(
        version: 17,
        name: "guardrails",
        up: { db in
            try await db.alter(table: "tenants").column("limits", type: .text).run()
            try await db.alter(table: "tenants").column("panic", type: .text).run()
        },
        down: { db in
            try await db.raw("ALTER TABLE tenants DROP COLUMN panic").run()
            try await db.raw("ALTER TABLE tenants DROP COLUMN limits").run()
        }
    )
}
