import Foundation
import Logging
import Testing
import WardenCore

@testable import WardenStore

@Suite struct DecisionLogTests {
    static func record(tenantID: UUID, _ n: Int) -> DecisionRecord {
        DecisionRecord(
            id: UUID(), tenantID: tenantID, agentID: "bot", tool: "refund", action: "create", input: #"{"n":\#(n)}"#, effect: .allow,
            reasons: ["default_allow"], bundle: nil, runID: n % 2 == 0 ? "run-1" : nil, cost: n % 3 == 0 ? 0.25 : nil, evaluatedNanoseconds: 1_000,
            createdAt: Timestamp.truncated(Date()), traceID: nil
        )
    }

    /// A tenant to log for: every decision joins its tenant's ledger chain.
    static func tenant(_ store: SQLStore) async throws -> UUID {
        let tenant = Tenant(id: UUID(), slug: "t\(UUID().uuidString.prefix(8).lowercased())", name: "T", createdAt: Date())
        try await store.write { try await $0.tenants.insert(tenant) }
        return tenant.id
    }

    @Test(arguments: Backend.available)
    func concurrentAppendsAreAllDurableWhenTheyReturn(_ backend: Backend) async throws {
        try await backend.withDatabase { database in
            let store = SQLStore(database: database)
            let log = GroupCommitDecisionLog(store: store, logger: Logger(label: "test"))
            let writer = Task { await log.run() }
            let tenantID = try await Self.tenant(store)
            let records = (0..<300).map { Self.record(tenantID: tenantID, $0) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for record in records { group.addTask { try await log.append(record) } }
                try await group.waitForAll()
            }
            // Every append has returned, so every record must be readable now, exactly as written.
            let count = try await store.read { try await $0.decisions.count(tenantID: tenantID) }
            #expect(count == 300)
            let sample = records[3]
            let stored = try await store.read { try await $0.decisions.find(tenantID: tenantID, id: sample.id) }
            #expect(stored == sample)
            log.close()
            await writer.value
            await #expect(throws: WardenError.self) { try await log.append(Self.record(tenantID: tenantID, 0)) }
        }
    }

    @Test func aBatchThatCannotBeWrittenIsRefusedNotAnswered() async throws {
        try await Backend.sqlite.withDatabase { database in
            let store = SQLStore(database: database)
            await database.close()  // every write now fails
            let log = GroupCommitDecisionLog(store: store, logger: Logger(label: "test"), retryDelays: [.milliseconds(1)])
            let writer = Task { await log.run() }
            let error = await #expect(throws: WardenError.self) { try await log.append(Self.record(tenantID: UUID(), 1)) }
            #expect(error?.code == .decisionLogUnavailable)
            log.close()
            await writer.value
        }
    }

    @Test(arguments: Backend.available)
    func aRetriedBatchNeverLogsTwice(_ backend: Backend) async throws {
        try await backend.withDatabase { database in
            let store = SQLStore(database: database)
            let tenantID = try await Self.tenant(store)
            let batch = (0..<5).map { Self.record(tenantID: tenantID, $0) }
            try await store.write { try await $0.decisions.insert(batch) }
            try await store.write { try await $0.decisions.insert(batch + [Self.record(tenantID: tenantID, 9)]) }
            #expect(try await store.read { try await $0.decisions.count(tenantID: tenantID) } == 6)
            // The ledger holds each decision once, too.
            let head = try await store.read { try await $0.ledger.head(tenantID: tenantID) }
            #expect(head.sequence == 6)
            let entries = try await store.read { try await $0.ledger.entries(tenantID: tenantID, after: 0, limit: 100) }
            #expect(Set(entries.map(\.recordID)).count == 6 && entries.allSatisfy { $0.kind == .decision })
        }
    }
}
