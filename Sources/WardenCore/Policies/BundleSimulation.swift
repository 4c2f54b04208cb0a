public import Foundation

/// What a bundle would have decided for recorded decisions: `POST …/bundles/{id}/simulate`.
public struct SimulationReport: Sendable {
    public struct Example: Sendable {
        public var record: DecisionRecord
        public var simulated: DecisionOutcome
    }

    public var bundle: PolicyBundle
    public var from: Date?
    public var to: Date?
    /// Recorded decisions read from the window (newest first, up to the limit).
    public var considered = 0
    /// Those re-evaluated (the rest are counted in `skipped` by why).
    public var evaluated = 0
    public var skipped: [String: Int] = [:]
    public var changed = 0
    /// `"allow->deny"`: how many decisions would change that way.
    public var changes: [String: Int] = [:]
    /// The simulated effects of the evaluated decisions.
    public var effects: [String: Int] = [:]
    /// Up to ten changed decisions.
    public var examples: [Example] = []
}

extension BundleService {
    public static let maximumSimulationRecords = 10_000

    /// Re-evaluates the tenant's recorded decisions of a window with the bundle (a draft, usually) and
    /// counts how many would change, by effect, with examples. No side effects.
    ///
    /// Only decisions that reached a policy are re-evaluated: one refused before the policy (unknown
    /// tool, kill switch, capability) says nothing about a bundle. Tools and agents are today's: a
    /// decision whose tool is now unknown or killed, or whose agent is gone, is skipped and counted.
    public func simulate(by principal: Principal, tenant: Tenant, id: UUID, from: Date?, to: Date?, limit: Int) async throws
        -> SimulationReport
    {
        try principal.require(.readBundles)
        guard (1...Self.maximumSimulationRecords).contains(limit) else {
            throw WardenError(.invalidField, "limit must be 1 to \(Self.maximumSimulationRecords)")
        }
        if let from, let to, from >= to { throw WardenError(.invalidField, "from must be before to") }
        let bundle = try await store.read { try await Self.find(tenant: tenant, id: id, $0) }
        guard bundle.opa == nil else {
            throw WardenError(.notSimulatable, "bundle \(bundle.version) delegates to an OPA server; simulation re-evaluates local policies only")
        }
        let compiled = try CompiledBundle(bundle)
        var snapshot = try await snapshots.snapshot(tenantID: tenant.id)
        snapshot.bundle = compiled
        snapshot.canary = nil
        var report = SimulationReport(bundle: bundle, from: from, to: to)
        var page = PageRequest(limit: PageRequest.maximumLimit)
        let query = DecisionQuery(tenantID: tenant.id, since: from, until: to)
        let prePolicy: Set<String> = [DecisionReason.unknownTool, DecisionReason.toolDisabled, DecisionReason.capabilityViolation]
        reading: while report.considered < limit {
            page.limit = min(PageRequest.maximumLimit, limit - report.considered)
            let result = try await store.read { [page] in try await $0.decisions.list(query, page) }
            for record in result.items {
                report.considered += 1
                if let first = record.reasons.first, prePolicy.contains(first) {
                    report.skipped["refused_before_policy", default: 0] += 1
                    continue
                }
                guard let agent = snapshot.agents[record.agentID] else {
                    report.skipped["agent_gone", default: 0] += 1
                    continue
                }
                let request = DecisionRequest(
                    tool: record.tool, action: record.action, input: JSONValue.parse(record.input) ?? .object([:]), runID: record.runID,
                    cost: record.cost)
                guard DecisionEngine.reachesPolicy(request, in: snapshot) != nil else {
                    report.skipped["tool_unavailable_now", default: 0] += 1
                    continue
                }
                let outcome = DecisionEngine.decide(request, agent: agent, in: snapshot, now: record.createdAt)
                report.evaluated += 1
                report.effects[outcome.effect.rawValue, default: 0] += 1
                if outcome.effect != record.effect {
                    report.changed += 1
                    report.changes["\(record.effect.rawValue)->\(outcome.effect.rawValue)", default: 0] += 1
                    if report.examples.count < 10 { report.examples.append(.init(record: record, simulated: outcome)) }
                }
            }
            guard let next = result.nextCursor, !result.items.isEmpty else { break reading }
            page.after = try Cursor.decode(next)
        }
        return report
    }
}
