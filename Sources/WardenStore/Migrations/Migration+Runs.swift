import SQLKit

extension Migration {
    /// 11: agent runs and their steps; the run id of approval requests; an index to find a run's
    /// decisions and approvals.
    static let runs = Migration(
        version: 11,
        name: "runs",
        up: { db in
            try await db.create(table: "runs")
                .column("id", type: .text, .primaryKey(autoIncrement: false))
                .column("tenant_id", type: .text, .notNull, .references("tenants", "id"))
                .column("agent_id", type: .text, .notNull)
                .column("goal", type: .text, .notNull)
                .column("plan", type: .text)
                .column("model", type: .text)
                .column("status", type: .text, .notNull)
                .column("created_by", type: .text, .notNull)
                .column("created_at", type: .text, .notNull)
                .column("ended_at", type: .text)
                .column("end_reason", type: .text)
                .column("ended_by", type: .text)
                .column("step_count", type: .bigint, .notNull, .default(0))
                .run()
            try await db.create(index: "runs_tenant_created").on("runs").column("tenant_id").column("created_at").run()
            try await db.create(index: "runs_tenant_agent").on("runs").column("tenant_id").column("agent_id").run()
            try await db.create(table: "run_steps")
                .column("id", type: .text, .primaryKey(autoIncrement: false))
                .column("tenant_id", type: .text, .notNull, .references("tenants", "id"))
                .column("run_id", type: .text, .notNull, .references("runs", "id"))
                .column("seq", type: .bigint, .notNull)
                .column("kind", type: .text, .notNull)
                .column("started_at", type: .text, .notNull)
                .column("ended_at", type: .text)
                .column("data", type: .text, .notNull)
                .column("labels", type: .text)
                .column("created_by", type: .text, .notNull)
                .column("created_at", type: .text, .notNull)
                .unique("run_id", "seq")
                .run()
            try await db.alter(table: "approvals").column("run_id", type: .text).run()
            // Partial indexes (both databases have them): most decisions carry no run id.
            try await db.raw("CREATE INDEX decisions_run ON decisions (tenant_id, run_id) WHERE run_id IS NOT NULL").run()
            try await db.raw("CREATE INDEX approvals_run ON approvals (tenant_id, run_id) WHERE run_id IS NOT NULL").run()
        },
        down: { db in
            try await db.drop(index: "approvals_run").run()
            try await db.drop(index: "decisions_run").run()
            try await db.raw("ALTER TABLE approvals DROP COLUMN run_id").run()
            try await db.drop(table: "run_steps").run()
            try await db.drop(index: "runs_tenant_agent").run()
            try await db.drop(index: "runs_tenant_created").run()
            try await db.drop(table: "runs").run()
        }
    )
}
