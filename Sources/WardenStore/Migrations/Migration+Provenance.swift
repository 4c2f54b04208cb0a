import SQLKit

extension Migration {
    /// 15: provenance manifests as issued (one per record), the outcomes of compensating a run's tool
    /// calls, and replays (a replay run, the run it replays, its mode and its report).
    static let provenance = Migration(
        version: 15,
        name: "provenance_compensation_replay",
        up: { db in
            try await db.create(table: "provenance_manifests")
                .column("tenant_id", type: .text, .notNull, .references("tenants", "id"))
                .column("record_id", type: .text, .notNull)
                .column("subject", type: .text, .notNull)
                .column("envelope", type: .text, .notNull)
                .column("key_id", type: .text, .notNull)
                .column("signed_at", type: .text, .notNull)
                .primaryKey("tenant_id", "record_id")
                .run()
            try await db.create(table: "run_compensations")
                .column("id", type: .text, .primaryKey(autoIncrement: false))
                .column("tenant_id", type: .text, .notNull, .references("tenants", "id"))
                .column("run_id", type: .text, .notNull, .references("runs", "id"))
                .column("step_id", type: .text, .notNull)
                .column("step_seq", type: .bigint, .notNull)
                .column("tool", type: .text, .notNull)
                .column("compensation_tool", type: .text)
                .column("status", type: .text, .notNull)
                .column("http_status", type: .bigint)
                .column("detail", type: .text)
                .column("reason", type: .text, .notNull)
                .column("requested_by", type: .text, .notNull)
                .column("created_at", type: .text, .notNull)
                .run()
            try await db.create(index: "run_compensations_run").on("run_compensations").column("tenant_id").column("run_id").run()
            try await db.create(table: "run_replays")
                .column("run_id", type: .text, .primaryKey(autoIncrement: false), .references("runs", "id"))
                .column("tenant_id", type: .text, .notNull, .references("tenants", "id"))
                .column("original_run_id", type: .text, .notNull, .references("runs", "id"))
                .column("mode", type: .text, .notNull)
                .column("until_step", type: .bigint)
                .column("approval_id", type: .text)
                .column("report", type: .text, .notNull)
                .column("created_by", type: .text, .notNull)
                .column("created_at", type: .text, .notNull)
                .run()
            try await db.create(index: "run_replays_original").on("run_replays").column("tenant_id").column("original_run_id").run()
            // One live replay per approval request.
            try await db.raw("CREATE UNIQUE INDEX run_replays_approval ON run_replays (approval_id) WHERE approval_id IS NOT NULL").run()
        },
        down: { db in
            try await db.drop(index: "run_replays_approval").run()
            try await db.drop(index: "run_replays_original").run()
            try await db.drop(table: "run_replays").run()
            try await db.drop(index: "run_compensations_run").run()
            try await db.drop(table: "run_compensations").run()
            try await db.drop(table: "provenance_manifests").run()
        }
    )
}
