import Benchmark
import BenchmarkPolicies
import Foundation
import Logging
import WardenCore
import WardenStore

/// A decision log that keeps nothing: isolates the in-process decision path from the database.
struct DiscardingLog: DecisionLog {
    func append(_ record: DecisionRecord) async throws {}
}

/// A tenant with 50 tools on a throwaway SQLite file, its snapshot loaded.
struct Fixture {
    let snapshots: SnapshotStore
    let tenantID: UUID
    let store: SQLStore

    static func make() async throws -> Fixture {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("warden-bench-\(UUID()).db").path
        let database = try await Database.open(.sqlite(path: path), logger: Logger(label: "bench"))
        try await Migrator(database: database).up()
        let store = SQLStore(database: database)
        let now = Date()
        let tenant = Tenant(id: UUID(), slug: "bench", name: "Bench", createdAt: now, defaultEffect: .allow)
        try await store.write { repos in
            try await repos.tenants.insert(tenant)
            try await repos.agents.insert(
                Agent(id: UUID(), tenantID: tenant.id, agentID: "bot", roles: ["support"], createdAt: now, createdBy: "bench"))
            for n in 0..<50 {
                try await repos.tools.insert(
                    Tool(
                        id: UUID(), tenantID: tenant.id, name: "tool-\(n)", description: "", risk: .medium, capabilities: ["read", "write"],
                        approvalLevel: n == 7 ? .manualApprove : .autoApprove, endpoint: nil, compensation: nil, createdAt: now, updatedAt: now
                    )
                )
            }
        }
        let snapshots = SnapshotStore(store: store)
        try await snapshots.preload()
        return Fixture(snapshots: snapshots, tenantID: tenant.id, store: store)
    }

    /// The 5-rule agent policy of BenchmarkPolicies as an active, compiled bundle.
    static func agentPolicy(tenantID: UUID) throws -> CompiledBundle {
        let policy = BenchmarkPolicies.agent
        let now = Date()
        return try CompiledBundle(
            PolicyBundle(
                id: UUID(), tenantID: tenantID, version: SemanticVersion("1.0.0")!, status: .active, modules: ["agent.rego": policy.source],
                data: JSONValue.parse(policy.data)!, entrypoint: policy.query, defaultEffect: .deny, notes: nil, createdBy: "bench",
                createdAt: now, updatedAt: now
            ))
    }
}

let request = DecisionRequest(
    tool: "tool-3", action: "write", input: .object(["order": .int(42), "amount": .double(19.99), "currency": .string("EUR")])
)

/// Built once per benchmark by its setup hook, outside the measurement.
nonisolated(unsafe) var fixture: Fixture!

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal], scalingFactor: .kilo, maxDuration: .seconds(5)
    )

    // The pure engine over one snapshot: the checks of the hot path and nothing else.
    Benchmark("DecisionEngine.decide") { benchmark in
        let snapshot = try await fixture.snapshots.snapshot(tenantID: fixture.tenantID)
        let agent = snapshot.agents["bot"]!
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(DecisionEngine.decide(request, agent: agent, in: snapshot, now: Date()))
        }
    } setup: {
        fixture = try await Fixture.make()
    }

    // The same with the 5-rule agent policy active as the tenant's bundle: input document, Rego
    // evaluation, result mapping.
    Benchmark("DecisionEngine.decide (agent policy bundle)") { benchmark in
        let snapshot = try await fixture.snapshots.snapshot(tenantID: fixture.tenantID)
        let agent = snapshot.agents["bot"]!
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(DecisionEngine.decide(request, agent: agent, in: snapshot, now: Date()))
        }
    } setup: {
        fixture = try await Fixture.make()
        fixture.snapshots.apply(activeBundle: try Fixture.agentPolicy(tenantID: fixture.tenantID), tenantID: fixture.tenantID)
    }

    // The parts of a policy decision: building the input document, and evaluating the bundle.
    Benchmark("PolicyInput.document") { benchmark in
        let snapshot = try await fixture.snapshots.snapshot(tenantID: fixture.tenantID)
        let agent = snapshot.agents["bot"]!
        let tool = snapshot.tools["tool-3"]!.tool
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(PolicyInput.document(request, agent: agent, tool: tool, tenant: snapshot.tenant, now: Date()))
        }
    } setup: {
        fixture = try await Fixture.make()
    }

    Benchmark("CompiledBundle.evaluate (agent policy)") { benchmark in
        let snapshot = try await fixture.snapshots.snapshot(tenantID: fixture.tenantID)
        let input = PolicyInput.document(request, agent: snapshot.agents["bot"]!, tool: snapshot.tools["tool-3"]!.tool, tenant: snapshot.tenant, now: Date())
        let bundle = try Fixture.agentPolicy(tenantID: fixture.tenantID)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(bundle.evaluate(input))
        }
    } setup: {
        fixture = try await Fixture.make()
    }

    // The whole in-process path without a database write: validation, snapshot load, engine,
    // record (id, canonical input, time), metrics.
    Benchmark("DecisionService.decide (no log write)") { benchmark in
        let service = DecisionService(snapshots: fixture.snapshots, log: DiscardingLog(), clock: SystemClock())
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try await service.decide(tenantID: fixture.tenantID, agentID: "bot", request))
        }
    } setup: {
        fixture = try await Fixture.make()
    }

    // With the durable log on SQLite, one caller at a time: every decision pays a whole commit
    // (the worst case for group commit; concurrent callers share commits).
    Benchmark("DecisionService.decide (SQLite group commit, 1 caller)", configuration: .init(scalingFactor: .one, maxDuration: .seconds(3))) {
        benchmark in
        let log = GroupCommitDecisionLog(store: fixture.store, logger: Logger(label: "bench"))
        let writer = Task { await log.run() }
        let service = DecisionService(snapshots: fixture.snapshots, log: log, clock: SystemClock())
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try await service.decide(tenantID: fixture.tenantID, agentID: "bot", request))
        }
        benchmark.stopMeasurement()
        log.close()
        await writer.value
    } setup: {
        fixture = try await Fixture.make()
    }

    // 64 callers at once through one writer: how far group commit amortises the commit.
    Benchmark("DecisionService.decide (SQLite group commit, 64 concurrent)", configuration: .init(scalingFactor: .one, maxDuration: .seconds(3))) {
        benchmark in
        let log = GroupCommitDecisionLog(store: fixture.store, logger: Logger(label: "bench"))
        let writer = Task { await log.run() }
        let service = DecisionService(snapshots: fixture.snapshots, log: log, clock: SystemClock())
        let tenantID = fixture.tenantID
        benchmark.startMeasurement()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<64 {
                group.addTask { blackHole(try await service.decide(tenantID: tenantID, agentID: "bot", request)) }
            }
            try await group.waitForAll()
        }
        benchmark.stopMeasurement()
        log.close()
        await writer.value
    } setup: {
        fixture = try await Fixture.make()
    }
}
