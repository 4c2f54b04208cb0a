import Foundation
import Logging
import SQLKit
import Testing
import WardenCore

@testable import WardenStore

/// The databases every repository test runs on: SQLite always, PostgreSQL when
/// `WARDEN_TEST_POSTGRES_URL` is set (scripts/test sets it; with `WARDEN_REQUIRE_POSTGRES=1` its
/// absence fails the run instead of quietly testing SQLite only).
enum Backend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite
    case postgres

    static var available: [Backend] {
        if ProcessInfo.processInfo.environment["WARDEN_TEST_POSTGRES_URL"] != nil { return [.sqlite, .postgres] }
        if ProcessInfo.processInfo.environment["WARDEN_REQUIRE_POSTGRES"] == "1" { return [.sqlite, .postgres] }
        print("note: WARDEN_TEST_POSTGRES_URL is not set; PostgreSQL cases are not run (scripts/test runs them)")
        return [.sqlite]
    }

    var testDescription: String { rawValue }

    /// A fresh, empty database location: a temporary SQLite file or a new PostgreSQL schema.
    func freshLocation() throws -> DatabaseLocation {
        let unique = UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        switch self {
        case .sqlite:
            return .sqlite(path: FileManager.default.temporaryDirectory.appendingPathComponent("warden-test-\(unique).db").path)
        case .postgres:
            guard let url = ProcessInfo.processInfo.environment["WARDEN_TEST_POSTGRES_URL"] else {
                Issue.record("WARDEN_REQUIRE_POSTGRES=1 but WARDEN_TEST_POSTGRES_URL is not set")
                throw StoreError(message: "no PostgreSQL")
            }
            return try DatabaseLocation(parsing: url + (url.contains("?") ? "&" : "?") + "schema=t_\(unique)")
        }
    }

    /// Opens a fresh database, migrated to the latest version, runs `body`, then removes it.
    func withDatabase<R>(migrated: Bool = true, _ body: (Database) async throws -> R) async throws -> R {
        let location = try freshLocation()
        let database = try await Database.open(location, logger: Logger(label: "test"))
        do {
            if migrated { try await Migrator(database: database).up() }
            let result = try await body(database)
            await Self.dispose(database)
            return result
        } catch {
            await Self.dispose(database)
            throw error
        }
    }

    static func dispose(_ database: Database) async {
        switch database.location {
        case .sqlite(let path):
            await database.close()
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        case .postgres(_, let schema):
            if let schema {
                try? await database.withSession { db in try await db.raw("DROP SCHEMA IF EXISTS \(ident: schema) CASCADE").run() }
            }
            await database.close()
        }
    }
}
