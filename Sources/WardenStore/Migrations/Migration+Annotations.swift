import SQLKit

extension Migration {
    /// 14: annotations on runs, including governed exceptions (overrides of denied decisions).
    static let annotations = Migration(
        version: 14,
        name: "run_annotations",
        up: { db in
            try await db.create(table: "run_annotations")
                .column("id", type: .text, .primaryKey(autoIncrement: false))
                .column("tenant_id", type: .text, .notNull, .references("tenants", "id"))
                .column("run_id", type: .text, .notNull, .references("runs", "id"))
                .column("kind", type: .text, .notNull)
                .column("text", type: .text, .notNull)
                .column("decision_id", type: .text)
                .column("policy_version", type: .text)
                .column("created_by", type: .text, .notNull)
                .column("created_at", type: .text, .notNull)
                .run()
            try await db.create(index: "run_annotations_run").on("run_annotations").column("tenant_id").column("run_id").run()
        },
        down: { db in
            try await db.drop(index: "run_annotations_run").run()
            try await db.drop(table: "run_annotations").run()
        }
    )
}
