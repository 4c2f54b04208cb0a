import SQLKit

extension Migration {
    /// 16: the labels of a decision's input fields (`input.api_key: secret`, …), kept with the record.
    static let decisionLabels = Migration(
        version: 16,
        name: "decision_labels",
        up: { db in
            try await db.alter(table: "decisions").column("labels", type: .text).run()
        },
        down: { db in
            try await db.raw("ALTER TABLE decisions DROP COLUMN labels").run()
        }
    )
}
