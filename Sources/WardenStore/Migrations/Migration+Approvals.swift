import SQLKit

extension Migration {
    /// 8: approval requests.
    static let approvals = Migration(
        version: 8,
        name: "approvals",
        up: { db in
            try await db.create(table: "approvals")
                .column("id", type: .text, .primaryKey(autoIncrement: false))
                .column("tenant_id", type: .text, .notNull, .references("tenants", "id"))
                .column("agent_id", type: .text, .notNull)
                .column("tool", type: .text, .notNull)
                .column("action", type: .text, .notNull)
                .column("input", type: .text, .notNull)
                .column("reason", type: .text)
                .column("level", type: .text, .notNull)
                .column("webhook_url", type: .text)
                .column("expires_at", type: .text, .notNull)
                .column("status", type: .text, .notNull)
                .column("history", type: .text, .notNull)
                .column("approvals", type: .text, .notNull)
                .column("webhook_attempts", type: .bigint, .notNull, .default(0))
                .column("last_webhook_status", type: .bigint)
                .column("resolved_at", type: .text)
                .column("decision_id", type: .text)
                .column("requested_by", type: .text, .notNull)
                .column("idempotency_key", type: .text)
                .column("created_at", type: .text, .notNull)
                .unique("tenant_id", "idempotency_key")
                .run()
            try await db.create(index: "approvals_tenant_status").on("approvals").column("tenant_id").column("status").run()
        },
        down: { db in
            try await db.drop(index: "approvals_tenant_status").run()
            try await db.drop(table: "approvals").run()
        }
    )
}
