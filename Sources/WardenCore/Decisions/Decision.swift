public import Foundation

/// What Warden answers.
public enum Effect: String, Sendable, Codable, CaseIterable {
    case allow
    case deny
    case requireApproval = "require_approval"
}

/// The answer when no policy decides.
public enum DefaultEffect: String, Sendable, Codable, CaseIterable {
    case allow
    case deny

    public var effect: Effect { self == .allow ? .allow : .deny }
}

/// Stable reason codes for short-circuit answers.
public enum DecisionReason {
    public static let unknownTool = "unknown_tool"
    public static let toolDisabled = "tool_disabled"
    public static let capabilityViolation = "capability_violation"
    public static let defaultAllow = "default_allow"
    public static let defaultDeny = "default_deny"
    public static let approvalRequired = "approval_required"
    /// The bundle's entry point allowed without giving reasons.
    public static let policyAllow = "policy_allow"
    /// The bundle's entry point denied without giving reasons.
    public static let policyDeny = "policy_deny"
    /// The entry point was undefined; the bundle's default effect answered.
    public static let noMatch = "no_match"
    /// The policy failed at run time; the decision denies (fail closed).
    public static let policyError = "policy_error"
    /// The bundle's external OPA did not answer in time or failed; the decision denies (fail closed).
    public static let policyUnavailable = "policy_unavailable"
    /// The policy system is bypassed in an emergency: no bundle was asked.
    public static let policyBypassed = "policy_bypassed"
    /// The tenant is in panic mode: every decision is denied.
    public static let tenantPanic = "tenant_panic"
    /// The run the decision names was cancelled.
    public static let runCancelled = "run_cancelled"
    /// A rate limit of the tenant, the agent or the tool is exhausted (HTTP 429 with `Retry-After`).
    public static let rateLimited = "rate_limited"
    /// The decision's cost would take the tenant or the agent over its daily budget.
    public static let budgetExceeded = "budget_exceeded"
}

/// The durable record of one decision.
public struct DecisionRecord: Sendable, Equatable {
    public var id: UUID
    public var tenantID: UUID
    public var agentID: String
    public var tool: String
    public var action: String
    /// The caller's input, as compact JSON.
    public var input: String
    public var effect: Effect
    public var reasons: [String]
    /// The deciding bundle's version and id; `nil` while the tenant has no policy.
    public var bundle: String?
    public var bundleID: UUID?
    public var runID: String?
    public var cost: Double?
    /// Time spent deciding, before the record was written.
    public var evaluatedNanoseconds: Int64
    public var createdAt: Date
    public var traceID: String?
    /// While a canary runs: whether the canary bundle or the baseline (the active bundle) decided.
    public var cohort: Cohort?
    /// For `require_approval`, the level the approval request opens at. Not stored with the
    /// decision: the approval request keeps it.
    public var approvalLevel: ApprovalLevel?
    /// Labels of the input's fields (`input.…`), as the caller gave them; `secret` values in `input`
    /// are already fingerprints.
    public var labels: [String: DataLabel] = [:]
    /// For `rate_limited`: seconds until the exhausted bucket holds a token again. Not stored.
    public var retryAfter: Double?

    public init(
        id: UUID, tenantID: UUID, agentID: String, tool: String, action: String, input: String, effect: Effect, reasons: [String],
        bundle: String?, bundleID: UUID? = nil, runID: String?, cost: Double?, evaluatedNanoseconds: Int64, createdAt: Date,
        traceID: String?, cohort: Cohort? = nil
    ) {
        self.bundleID = bundleID
        self.cohort = cohort
        self.id = id
        self.tenantID = tenantID
        self.agentID = agentID
        self.tool = tool
        self.action = action
        self.input = input
        self.effect = effect
        self.reasons = reasons
        self.bundle = bundle
        self.runID = runID
        self.cost = cost
        self.evaluatedNanoseconds = evaluatedNanoseconds
        self.createdAt = createdAt
        self.traceID = traceID
    }
}

/// Filters for decision listings; newest first.
public struct DecisionQuery: Sendable, Equatable {
    public var tenantID: UUID
    public var effect: Effect?
    public var tool: String?
    public var agentID: String?
    /// Only decisions made by this bundle version.
    public var bundle: String?
    public var since: Date?
    public var until: Date?

    public init(
        tenantID: UUID, effect: Effect? = nil, tool: String? = nil, agentID: String? = nil, bundle: String? = nil, since: Date? = nil,
        until: Date? = nil
    ) {
        self.bundle = bundle
        self.tenantID = tenantID
        self.effect = effect
        self.tool = tool
        self.agentID = agentID
        self.since = since
        self.until = until
    }
}

/// Where decision records go. `append` returns only once the record is durable.
public protocol DecisionLog: Sendable {
    func append(_ record: DecisionRecord) async throws
}

/// Which side of a canary made a decision.
public enum Cohort: String, Sendable, Codable, CaseIterable {
    /// The bundle in canary.
    case canary
    /// The active bundle (or the tenant's default effect), for the rest.
    case baseline
}
