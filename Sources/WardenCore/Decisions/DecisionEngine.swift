public import Foundation
public import Rego

/// What an agent asks.
public struct DecisionRequest: Sendable, Equatable {
    public var tool: String
    public var action: String
    public var input: JSONValue
    public var runID: String?
    public var cost: Double?
    /// Labels of the input's fields (`input.api_key: secret`, …): the policy sees every value; the
    /// record keeps `secret` values as keyed fingerprints, and exports redact by label.
    public var labels: [String: DataLabel]

    public init(
        tool: String, action: String, input: JSONValue, runID: String? = nil, cost: Double? = nil, labels: [String: DataLabel] = [:]
    ) {
        self.labels = labels
        self.tool = tool
        self.action = action
        self.input = input
        self.runID = runID
        self.cost = cost
    }
}

/// What the engine concluded, before it is recorded.
public struct DecisionOutcome: Sendable, Equatable {
    public var effect: Effect
    public var reasons: [String]
    /// The deciding bundle's version, and its id.
    public var bundle: String?
    public var bundleID: UUID?
    /// While a canary runs, the side that decided.
    public var cohort: Cohort?
    /// What the policy asked of the caller besides the effect (`obligations` of its result).
    public var obligations: JSONValue?
    /// How the policy answered, for metrics: `nil` when no bundle was asked.
    public var policyResult: PolicyResultKind?
    /// For `require_approval`: who must agree (the strictest of the tool's level, the policy's
    /// `approval_level` obligation and the tenant's forced manual approval).
    public var approvalLevel: ApprovalLevel?
    /// For `rate_limited`: seconds until the exhausted bucket holds a token again.
    public var retryAfter: Double?

    public init(
        effect: Effect, reasons: [String], bundle: String? = nil, bundleID: UUID? = nil, obligations: JSONValue? = nil,
        policyResult: PolicyResultKind? = nil
    ) {
        self.effect = effect
        self.reasons = reasons
        self.bundle = bundle
        self.bundleID = bundleID
        self.obligations = obligations
        self.policyResult = policyResult
    }

    /// Whether the tool refused the action as outside its capabilities.
    public var isCapabilityViolation: Bool { effect == .deny && reasons.first == DecisionReason.capabilityViolation }
}

/// The pure decision: a function of one snapshot and one request. No I/O, no clock.
public enum DecisionEngine {
    /// `verdict` is the answer of the bundle's external OPA, when it delegates (asked before, by the
    /// service, since that is I/O); a delegating bundle without one denies as unavailable.
    public static func decide(
        _ request: DecisionRequest, agent: Agent, in snapshot: TenantSnapshot, now: Date, verdict: PolicyVerdict? = nil, bypass: Bool = false
    ) -> DecisionOutcome {
        // 1. The tool must exist.
        guard let entry = snapshot.tools[request.tool] else {
            return DecisionOutcome(effect: .deny, reasons: [DecisionReason.unknownTool])
        }
        // 2. The kill switch wins over everything after it.
        guard entry.tool.isActive else {
            return DecisionOutcome(effect: .deny, reasons: [DecisionReason.toolDisabled])
        }
        // 3. The action must be one the tool offers.
        guard entry.capabilities.contains(request.action) else {
            return DecisionOutcome(effect: .deny, reasons: [DecisionReason.capabilityViolation])
        }
        // 4. Policy: the deciding bundle (during a canary, the canary's or the active one by a stable
        // hash of tenant and agent), or the tenant's default effect while it has none.
        var outcome: DecisionOutcome
        let (deciding, cohort) = bypass ? (nil, nil) : snapshot.deciding(for: agent.agentID)
        if bypass {
            outcome = DecisionOutcome(effect: .allow, reasons: [DecisionReason.policyBypassed])
        } else if let bundle = deciding {
            if let verdict {
                outcome = Self.outcome(of: verdict, bundle: bundle)
            } else if bundle.external != nil {
                outcome = Self.outcome(of: .unavailable("no answer from the external OPA"), bundle: bundle)
            } else {
                outcome = Self.outcome(
                    of: bundle.evaluate(Self.input(request, agent: agent, entry: entry, snapshot: snapshot, now: now)), bundle: bundle)
            }
        } else {
            switch snapshot.tenant.defaultEffect {
            case .allow: outcome = DecisionOutcome(effect: .allow, reasons: [DecisionReason.defaultAllow])
            case .deny: outcome = DecisionOutcome(effect: .deny, reasons: [DecisionReason.defaultDeny])
            }
        }
        outcome.cohort = cohort
        // 5. The tool's approval level, the policy's `approval_level` obligation or the tenant's
        // forced manual approval may raise allow to require_approval; the strictest sets the level.
        if outcome.effect != .deny {
            var level = max(entry.tool.approvalLevel, ApprovalLevel(obligations: outcome.obligations) ?? .autoApprove)
            if snapshot.tenant.forceManualApproval { level = max(level, .manualApprove) }
            if outcome.effect == .allow, level != .autoApprove {
                outcome.effect = .requireApproval
                outcome.reasons.append(DecisionReason.approvalRequired)
            }
            if outcome.effect == .requireApproval { outcome.approvalLevel = max(level, .manualApprove) }
        }
        return outcome
    }

    /// The policy input document, from the snapshot's prebuilt parts.
    public static func input(_ request: DecisionRequest, agent: Agent, entry: TenantSnapshot.ToolEntry, snapshot: TenantSnapshot, now: Date)
        -> Value
    {
        PolicyInput.document(
            request, agent: snapshot.agentPolicyValues[agent.agentID] ?? PolicyInput.value(of: agent), tool: entry.policyValue,
            tenant: snapshot.tenantPolicyValue, now: now)
    }

    /// Whether the request gets past the checks before the policy (tool known, active, action offered).
    public static func reachesPolicy(_ request: DecisionRequest, in snapshot: TenantSnapshot) -> TenantSnapshot.ToolEntry? {
        guard let entry = snapshot.tools[request.tool], entry.tool.isActive, entry.capabilities.contains(request.action) else { return nil }
        return entry
    }

    static func outcome(of verdict: PolicyVerdict, bundle: CompiledBundle) -> DecisionOutcome {
        let version = bundle.version.description
        switch verdict {
        case .decided(let effect, let reasons, let obligations):
            return DecisionOutcome(
                effect: effect, reasons: reasons, bundle: version, bundleID: bundle.id, obligations: obligations, policyResult: .decided)
        case .noMatch:
            return DecisionOutcome(
                effect: bundle.defaultEffect.effect, reasons: [DecisionReason.noMatch], bundle: version, bundleID: bundle.id,
                policyResult: .noMatch)
        case .error:
            // Fail closed.
            return DecisionOutcome(effect: .deny, reasons: [DecisionReason.policyError], bundle: version, bundleID: bundle.id, policyResult: .error)
        case .unavailable:
            return DecisionOutcome(
                effect: .deny, reasons: [DecisionReason.policyUnavailable], bundle: version, bundleID: bundle.id, policyResult: .error)
        }
    }
}

/// How a bundle answered one decision.
public enum PolicyResultKind: String, Sendable, CaseIterable {
    case decided
    case noMatch = "no_match"
    case error
}
