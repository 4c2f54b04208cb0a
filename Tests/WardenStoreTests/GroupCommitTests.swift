import Foundation
import SQLKit
import Testing
import WardenCore

@testable import WardenStore

/// Transactions committed together (SQLite) keep their own outcome: one that fails rolls back its own
/// writes only, the others are committed and answered with their results; read sessions see what
/// was committed and refuse to write. The same calls on PostgreSQL, one transaction each.
@Suite struct GroupCommitTests {
    struct Boom: Error {}

    @Test(arguments: Backend.available)
    func concurrentTransactionsKeepTheirOwnOutcome(_ backend: Backend) async throws {
        try await backend.withDatabase(migrated: false) { database in
            try await database.transaction { db in
                try await db.raw("CREATE TABLE group_rows (id BIGINT PRIMARY KEY, note TEXT NOT NULL)").run()
            }
            let outcomes = await withTaskGroup(of: (Int, Result<Int, any Error>).self) { group in
                for index in 0..<200 {
                    group.addTask {
                        do {
                            let value = try await database.transaction { db -> Int in
                                try await db.raw("INSERT INTO group_rows (id, note) VALUES (\(bind: index), 'first')").run()
                                if index % 7 == 0 {
                                    // A constraint violation after a write: both must be undone.
                                    try await db.raw("INSERT INTO group_rows (id, note) VALUES (\(bind: index), 'again')").run()
                                }
                                if index % 11 == 0 { throw Boom() }
                                return index * 2
                            }
                            return (index, .success(value))
                        } catch {
                            return (index, .failure(error))
                        }
                    }
                }
                var all: [Int: Result<Int, any Error>] = [:]
                for await (index, outcome) in group { all[index] = outcome }
                return all
            }
            let expected = Set((0..<200).filter { $0 % 7 != 0 && $0 % 11 != 0 })
            for (index, outcome) in outcomes {
                switch outcome {
                case .success(let value): #expect(expected.contains(index) && value == index * 2, "\(index)")
                case .failure(let error):
                    #expect(!expected.contains(index), "\(index): \(error)")
                    if index % 7 != 0 { #expect(error is Boom, "\(index): the body's own error, not another's") }
                }
            }
            let stored = try await database.read { db in
                try await db.raw("SELECT id FROM group_rows").all().map { try $0.decode(column: "id", as: Int.self) }
            }
            #expect(Set(stored) == expected && stored.count == expected.count)
            // A read session does not write.
            if backend == .sqlite {
                await #expect(throws: (any Error).self) {
                    try await database.read { db in try await db.raw("INSERT INTO group_rows (id, note) VALUES (1000, 'x')").run() }
                }
            }
        }
    }
}
