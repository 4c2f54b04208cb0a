import SQLKit

extension Migration {
    /// 4: the rollout lifecycle: approval and stage columns on bundles, every transition in
    /// `bundle_transitions`, and the cohort (canary or baseline) of each decision.
    static let rollout = Migration(
        version: 4,
        name: "rollout",
        up: { db in
            for column in [
                "approved_by", "approved_at", "stage_since", "previous_bundle_id", "rolled_back_at", "rolled_back_by", "rollback_reason",
            ] {
                try await db.alter(table: "bundles").column(column, type: .text).run()
            }
            try await db.create(table: "bundle_transitions")
                .column("id", type: .text, .primaryKey(autoIncrement: false))
                .column("tenant_id", type: .text, .notNull, .references("tenants", "id"))
                .column("bundle_id", type: .text, .notNull, .references("bundles", "id"))
                .column("from_status", type: .text, .notNull)
                .column("to_status", type: .text, .notNull)
                .column("actor", type: .text, .notNull)
                .column("reason", type: .text)
                .column("forced", type: .bigint, .notNull, .default(0))
                .column("created_at", type: .text, .notNull)
                .run()
            try await db.create(index: "bundle_transitions_bundle").on("bundle_transitions").column("bundle_id").column("created_at").run()
            try await db.alter(table: "decisions").column("cohort", type: .text).run()
        },
        down: { db in
            try await db.raw("ALTER TABLE decisions DROP COLUMN cohort").run()
            try await db.drop(index: "bundle_transitions_bundle").run()
            try await db.drop(table: "bundle_transitions").run()
            for column in [
                "approved_by", "approved_at", "stage_since", "previous_bundle_id", "rolled_back_at", "rolled_back_by", "rollback_reason",
            ] {
                try await db.raw("ALTER TABLE bundles DROP COLUMN \(unsafeRaw: column)").run()
            }
        }
    )
}
