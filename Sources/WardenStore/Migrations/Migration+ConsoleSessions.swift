import SQLKit

extension Migration {
    /// 19: console sessions (a hash of each session token, the API key it acts as, its CSRF token).
    static let consoleSessions = Migration(
        version: 19,
        name: "console_sessions",
        up: { db in
            try await db.create(table: "console_sessions")
                .column("token_hash", type: .text, .primaryKey(autoIncrement: false))
                .column("api_key_id", type: .text, .notNull, .references("api_keys", "id"))
                .column("csrf", type: .text, .notNull)
                .column("created_at", type: .text, .notNull)
                .column("expires_at", type: .text, .notNull)
                .run()
            try await db.create(index: "console_sessions_expiry").on("console_sessions").column("expires_at").run()
        },
        down: { db in
            try await db.drop(index: "console_sessions_expiry").run()
            try await db.drop(table: "console_sessions").run()
        }
    )
}
