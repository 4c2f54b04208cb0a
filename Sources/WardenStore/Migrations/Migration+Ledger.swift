import SQLKit

extension Migration {
    /// 12: the per-tenant hash chain of ledger entries, each tenant's chain head, and signed checkpoints.
    static let ledger = Migration(
        version: 12,
        name: "ledger",
        up: { db in
            try await db.create(table: "ledger_entries")
                .column("tenant_id", type: .text, .notNull, .references("tenants", "id"))
                .column("seq", type: .bigint, .notNull)
                .column("kind", type: .text, .notNull)
                .column("record_id", type: .text, .notNull)
                .column("at", type: .text, .notNull)
                .column("body", type: .text, .notNull)
                .column("prev_hash", type: .text, .notNull)
                .column("hash", type: .text, .notNull)
                .primaryKey("tenant_id", "seq")
                .run()
            // No index by record id: every index is one more write per decision on the hot path.
            try await db.create(table: "ledger_checkpoints")
                .column("tenant_id", type: .text, .notNull, .references("tenants", "id"))
                .column("seq", type: .bigint, .notNull)
                .column("hash", type: .text, .notNull)
                .column("key_id", type: .text, .notNull)
                .column("signature", type: .text, .notNull)
                .column("signed_at", type: .text, .notNull)
                .primaryKey("tenant_id", "seq")
                .run()
            try await db.alter(table: "tenants").column("ledger_seq", type: .bigint, .notNull, .default(0)).run()
            try await db.alter(table: "tenants").column(
                "ledger_head", type: .text, .notNull, .default(SQLLiteral.string(String(repeating: "0", count: 64)))
            )
            .run()
        },
        down: { db in
            try await db.raw("ALTER TABLE tenants DROP COLUMN ledger_head").run()
            try await db.raw("ALTER TABLE tenants DROP COLUMN ledger_seq").run()
            try await db.drop(table: "ledger_checkpoints").run()
            try await db.drop(table: "ledger_entries").run()
        }
    )
}
