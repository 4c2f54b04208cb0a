import SQLKit

extension Migration {
    /// 13: the public halves of retired signing keys, so what they signed still verifies after a rotation.
    static let keyRotation = Migration(
        version: 13,
        name: "key_rotation",
        up: { db in
            try await db.create(table: "retired_signing_keys")
                .column("key_id", type: .text, .primaryKey(autoIncrement: false))
                .column("purpose", type: .text, .notNull)
                .column("public_key", type: .text, .notNull)
                .column("created_at", type: .text, .notNull)
                .column("retired_at", type: .text, .notNull)
                .column("retired_by", type: .text, .notNull)
                .run()
        },
        down: { db in
            try await db.drop(table: "retired_signing_keys").run()
        }
    )
}
