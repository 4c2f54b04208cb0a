/// What an agent asks.
public struct DecisionRequest: Sendable, Equatable {
    public var tool: String
    public var action: String
    public var input: JSONValue
    public var runID: String?
    public var cost: Double?

    public init(tool: String, action: String, input: JSONValue, runID: String? = nil, cost: Double? = nil) {
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
    public var bundle: String?

    public init(effect: Effect, reasons: [String], bundle: String? = nil) {
        self.effect = effect
        self.reasons = reasons
        self.bundle = bundle
    }

    /// Whether the tool refused the action as outside its capabilities.
    public var isCapabilityViolation: Bool { effect == .deny && reasons.first == DecisionReason.capabilityViolation }
}

/// The pure decision: a function of one snapshot and one request. No I/O, no clock.
public enum DecisionEngine {
    public static func decide(_ request: DecisionRequest, agent: Agent, in snapshot: TenantSnapshot) -> DecisionOutcome {
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
        // 4. Policy. Until bundles exist the tenant's default effect decides.
        var outcome: DecisionOutcome
        switch snapshot.tenant.defaultEffect {
        case .allow: outcome = DecisionOutcome(effect: .allow, reasons: [DecisionReason.defaultAllow])
        case .deny: outcome = DecisionOutcome(effect: .deny, reasons: [DecisionReason.defaultDeny])
        }
        // 5. The tool's approval level may raise allow to require_approval.
        if outcome.effect == .allow, entry.tool.approvalLevel != .autoApprove {
            outcome.effect = .requireApproval
            outcome.reasons.append(DecisionReason.approvalRequired)
        }
        return outcome
    }
}
