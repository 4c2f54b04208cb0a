import SQLKit

extension Migration {
    /// 10: the webhook delivery queue; the tenant's escalation ladder and pause switches; each
    /// approval request's escalation step and input labels.
    static let webhooks = Migration(
        version: 10,
        name: "webhooks",
        up: { db in
            try await db.create(table: "webhook_deliveries")
                .column("id", type: .text, .primaryKey(autoIncrement: false))
                .column("tenant_id", type: .text, .notNull, .references("tenants", "id"))
                .column("approval_id", type: .text)
                .column("event", type: .text, .notNull)
                .column("url", type: .text, .notNull)
                .column("body", type: .text, .notNull)
                .column("status", type: .text, .notNull)
                .column("attempts", type: .bigint, .notNull, .default(0))
                .column("next_attempt_at", type: .text, .notNull)
                .column("last_status", type: .bigint)
                .column("last_error", type: .text)
                .column("created_at", type: .text, .notNull)
                .column("delivered_at", type: .text)
                .run()
            try await db.create(index: "webhook_deliveries_due").on("webhook_deliveries").column("status").column("next_attempt_at").run()
            try await db.create(index: "webhook_deliveries_tenant").on("webhook_deliveries").column("tenant_id").column("created_at").run()
            try await db.alter(table: "tenants").column("approval_settings", type: .text).run()
            try await db.alter(table: "tenants").column("escalation_paused", type: .bigint, .notNull, .default(0)).run()
            try await db.alter(table: "tenants").column("webhooks_paused", type: .bigint, .notNull, .default(0)).run()
            try await db.alter(table: "approvals").column("escalation_step", type: .bigint, .notNull, .default(0)).run()
            try await db.alter(table: "approvals").column("labels", type: .text).run()
        },
        down: { db in
            for (table, column) in [
                ("approvals", "labels"), ("approvals", "escalation_step"), ("tenants", "webhooks_paused"), ("tenants", "escalation_paused"),
                ("tenants", "approval_settings"),
            ] {
                try await db.raw("ALTER TABLE \(unsafeRaw: table) DROP COLUMN \(unsafeRaw: column)").run()
            }
            try await db.drop(index: "webhook_deliveries_tenant").run()
            try await db.drop(index: "webhook_deliveries_due").run()
            try await db.drop(table: "webhook_deliveries").run()
        }
    )
}
