import Foundation
import Logging
import SQLKit
import Testing
import WardenCore

@testable import WardenStore

@Suite struct MigrationTests {
    @Test(arguments: Backend.available)
    func upDownUpRoundTrips(_ backend: Backend) async throws {
        try await backend.withDatabase(migrated: false) { database in
            let migrator = Migrator(database: database)
            #expect(try await migrator.currentVersion() == 0)
            #expect(try await migrator.status().allSatisfy { $0.appliedAt == nil })

            #expect(try await migrator.up() == Migration.all.map(\.version))
            #expect(try await migrator.currentVersion() == migrator.latestVersion)
            #expect(try await migrator.status().allSatisfy { $0.appliedAt != nil })
            #expect(try await migrator.up().isEmpty, "a second up applies nothing")
            try await insertTenant(database)

            let all = Migration.all.map(\.version)
            #expect(try await migrator.down(steps: 1) == [all.last!])
            #expect(try await migrator.currentVersion() == all.count - 1)
            #expect(try await migrator.down(steps: all.count) == Array(all.dropLast().reversed()))
            #expect(try await migrator.currentVersion() == 0)
            await #expect(throws: (any Error).self, "tables are gone after down") { try await insertTenant(database) }
            #expect(try await migrator.down(steps: 3).isEmpty, "nothing left to revert")

            #expect(try await migrator.up() == all)
            try await insertTenant(database)
        }
    }

    @Test(arguments: Backend.available)
    func refusesADatabaseNewerThanTheBinary(_ backend: Backend) async throws {
        try await backend.withDatabase { database in
            try await database.withSession { db in
                try await db.insert(into: "schema_migrations").columns("version", "name", "applied_at")
                    .values(SQLBind(999), SQLBind("future"), SQLBind("2030-01-01T00:00:00.000000Z")).run()
            }
            let migrator = Migrator(database: database)
            await #expect(throws: StoreError.self) { try await migrator.up() }
            #expect(try await migrator.status().contains { $0.version == 999 && $0.name.contains("unknown") })
        }
    }

    @Test(arguments: Backend.available)
    func concurrentMigratorsApplyEachMigrationOnce(_ backend: Backend) async throws {
        try await backend.withDatabase(migrated: false) { database in
            let results = try await withThrowingTaskGroup(of: [Int].self) { group in
                for _ in 0..<4 { group.addTask { try await Migrator(database: database).up() } }
                var all: [[Int]] = []
                for try await applied in group { all.append(applied) }
                return all
            }
            #expect(results.flatMap { $0 }.sorted() == Migration.all.map(\.version))
        }
    }

    private func insertTenant(_ database: Database) async throws {
        let store = SQLStore(database: database)
        try await store.write { repos in
            try await repos.tenants.insert(Tenant(id: UUID(), slug: "t\(UUID().uuidString.prefix(6).lowercased())", name: "T", createdAt: Date()))
        }
    }
}

@Suite struct DatabaseLocationTests {
    @Test func parsesSupportedURLs() throws {
        #expect(try DatabaseLocation(parsing: nil) == .sqlite(path: "./warden.db"))
        #expect(try DatabaseLocation(parsing: "") == .sqlite(path: "./warden.db"))
        #expect(try DatabaseLocation(parsing: "sqlite:///var/lib/warden.db") == .sqlite(path: "/var/lib/warden.db"))
        #expect(try DatabaseLocation(parsing: "sqlite://data/w.db") == .sqlite(path: "data/w.db"))
        #expect(try DatabaseLocation(parsing: "postgres://u:p@db:5432/w") == .postgres(url: "postgres://u:p@db:5432/w", schema: nil))
        #expect(
            try DatabaseLocation(parsing: "postgresql://u@db/w?schema=warden_a&sslmode=disable")
                == .postgres(url: "postgresql://u@db/w?sslmode=disable", schema: "warden_a")
        )
    }

    @Test(arguments: ["mysql://x/y", "sqlite://", "postgres://", "postgres://db/w?schema=bad;drop", "http://x"])
    func rejectsOthers(_ text: String) {
        #expect(throws: WardenError.self) { try DatabaseLocation(parsing: text) }
    }

    @Test func descriptionHidesThePassword() throws {
        let location = try DatabaseLocation(parsing: "postgres://warden:s3cret@db:5432/w")
        #expect(!location.description.contains("s3cret"))
        #expect(location.description.contains("***"))
    }

    @Test func unreachablePostgresFailsWithAClearMessage() async throws {
        // Port 1 on loopback refuses connections.
        let location = try DatabaseLocation(parsing: "postgres://warden@127.0.0.1:1/none")
        await #expect {
            _ = try await Database.open(location, logger: Logger(label: "test"))
        } throws: { error in
            "\(error)".contains("cannot connect to PostgreSQL at postgres://warden@127.0.0.1:1/none")
        }
    }

    @Test func unopenableSQLiteFailsWithAClearMessage() async throws {
        await #expect {
            _ = try await Database.open(.sqlite(path: "/nonexistent-dir-\(UUID())/w.db"), logger: Logger(label: "test"))
        } throws: { error in
            "\(error)".contains("cannot open SQLite database at /nonexistent-dir-")
        }
    }

    @Test func sqliteUsesWALMode() async throws {
        try await Backend.sqlite.withDatabase { database in
            let mode = try await database.withSession { db in
                try await db.raw("PRAGMA journal_mode").first()?.decode(column: "journal_mode", as: String.self)
            }
            #expect(mode == "wal")
        }
    }
}
