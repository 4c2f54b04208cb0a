public import Foundation
public import Rego

/// "Why was this denied?" and "is my policy taking effect?": evaluates a request the way `decide`
/// would, with the active bundle or a named one (a draft, say), and explains the answer. No side
/// effects: no decision record, no approval request, no rate-limit charge, no metrics.
public struct PolicySandbox: Sendable {
    let store: any Store
    let snapshots: SnapshotStore
    let clock: any WallClock
    let external: (any ExternalPolicyClient)?

    public init(store: any Store, snapshots: SnapshotStore, clock: any WallClock, external: (any ExternalPolicyClient)? = nil) {
        self.store = store
        self.snapshots = snapshots
        self.clock = clock
        self.external = external
    }

    public struct Explanation: Sendable {
        public var outcome: DecisionOutcome
        /// The check that answered before any policy ran (`unknown_tool`, `tool_disabled`,
        /// `capability_violation`), if one did.
        public var shortCircuit: String?
        /// The bundle asked, if any: id, version, status.
        public var bundle: PolicyBundle?
        /// Whether the bundle asked is the one deciding live.
        public var isActiveBundle: Bool
        public var entrypoint: String?
        /// What the policy said, when it was asked: `decided`, `no_match` or `error`, with the error text.
        public var policyResult: PolicyResultKind?
        public var policyError: String?
        /// Every rule definition that produced a value, in evaluation order.
        public var trace: [RuleTrace]
        /// The input document the policy saw.
        public var input: Value?
    }

    public func evaluate(
        by principal: Principal, tenant: Tenant, agentID: String, _ request: DecisionRequest, bundleID: UUID?
    ) async throws -> Explanation {
        try principal.require(.readBundles)
        try DecisionService.validate(request)
        var snapshot = try await snapshots.snapshot(tenantID: tenant.id)
        guard let agent = snapshot.agents[agentID] else {
            throw WardenError(.agentNotFound, "agent '\(agentID)' not found in tenant '\(tenant.slug)'")
        }
        var chosen: PolicyBundle?
        if let bundleID {
            guard let bundle = try await store.read({ try await $0.bundles.find(tenantID: tenant.id, id: bundleID) }) else {
                throw WardenError(.bundleNotFound, "bundle '\(bundleID.uuidString.lowercased())' not found in tenant '\(tenant.slug)'")
            }
            snapshot.bundle = try CompiledBundle(bundle)
            chosen = bundle
        } else if let active = snapshot.bundle {
            chosen = try await store.read { try await $0.bundles.find(tenantID: tenant.id, id: active.id) }
        }
        let now = clock.now()
        let verdict = await snapshot.externalVerdict(request, agent: agent, now: now, client: external)
        let outcome = DecisionEngine.decide(request, agent: agent, in: snapshot, now: now, verdict: verdict)
        var explanation = Explanation(
            outcome: outcome, shortCircuit: nil, bundle: chosen, isActiveBundle: chosen?.status == .active,
            entrypoint: chosen?.entrypoint, policyResult: outcome.policyResult, policyError: nil, trace: [], input: nil
        )
        guard outcome.policyResult != nil, let bundle = snapshot.bundle, let entry = snapshot.tools[request.tool] else {
            // The policy was not asked: a check before it answered, or there is no bundle.
            let shortCircuits = [DecisionReason.unknownTool, DecisionReason.toolDisabled, DecisionReason.capabilityViolation]
            if let first = outcome.reasons.first, shortCircuits.contains(first) { explanation.shortCircuit = first }
            return explanation
        }
        let input = DecisionEngine.input(request, agent: agent, entry: entry, snapshot: snapshot, now: now)
        explanation.input = input
        if bundle.external != nil {
            // OPA decided; its rules are its own to explain.
            if case .unavailable(let message)? = verdict { explanation.policyError = message }
            return explanation
        }
        let (local, trace) = bundle.explain(input)
        explanation.trace = trace
        if case .error(let message) = local { explanation.policyError = message }
        return explanation
    }
}
