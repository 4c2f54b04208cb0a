import Foundation
import SQLKit
import WardenCore

struct SQLSystemSettingRepository: SystemSettingRepository {
    let db: any SQLDatabase

    func get(_ key: String) async throws -> JSONValue? {
        guard let row = try await db.select().column("value").from("system_settings").where("key", .equal, key).first() else { return nil }
        return JSONValue.parse(try row.decode(column: "value", as: String.self))
    }

    func set(_ key: String, _ value: JSONValue, by actor: String, at date: Date) async throws {
        try await db.delete(from: "system_settings").where("key", .equal, key).run()
        try await db.insert(into: "system_settings").columns("key", "value", "updated_by", "updated_at")
            .values(SQLBind(key), SQLBind(value.canonicalText), SQLBind(actor), SQLBind(Timestamp.format(date))).run()
    }
}
