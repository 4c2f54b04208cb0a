public import Foundation

/// Where an agent run is.
public enum RunStatus: String, Sendable, Codable, CaseIterable {
    case running, completed, failed, cancelled

    public var isEnded: Bool { self != .running }
}

/// One execution of an agent towards a goal: the ledger's unit.
public struct Run: Sendable, Equatable {
    public var id: UUID
    public var tenantID: UUID
    public var agentID: String
    public var goal: String
    public var plan: JSONValue?
    public var model: String?
    public var status: RunStatus
    /// `agent:<id>` or `api_key:<id>`.
    public var createdBy: String
    public var createdAt: Date
    public var endedAt: Date?
    /// Why it failed or was cancelled, or a closing note.
    public var endReason: String?
    public var endedBy: String?
    /// Steps appended so far; the next step's sequence number is this plus one.
    public var stepCount: Int

    public init(
        id: UUID, tenantID: UUID, agentID: String, goal: String, plan: JSONValue?, model: String?, status: RunStatus = .running,
        createdBy: String, createdAt: Date, endedAt: Date? = nil, endReason: String? = nil, endedBy: String? = nil, stepCount: Int = 0
    ) {
        self.id = id
        self.tenantID = tenantID
        self.agentID = agentID
        self.goal = goal
        self.plan = plan
        self.model = model
        self.status = status
        self.createdBy = createdBy
        self.createdAt = createdAt
        self.endedAt = endedAt
        self.endReason = endReason
        self.endedBy = endedBy
        self.stepCount = stepCount
    }
}

/// What a step records.
public enum StepKind: String, Sendable, Codable, CaseIterable {
    case plan
    case modelCall = "model_call"
    case toolCall = "tool_call"
    case retry, error, note

    /// The fields a step of this kind may carry besides `kind`, times and labels; those marked are required.
    public var fields: [(name: String, required: Bool)] {
        switch self {
        case .plan: [("plan", true)]
        case .modelCall: [("model", true), ("prompt", false), ("response", false), ("tokens", false)]
        case .toolCall:
            [
                ("tool", true), ("action", false), ("input", false), ("output", false), ("decision_id", false), ("approval_id", false),
                ("idempotency_key", false), ("compensation", false),
            ]
        case .retry: [("of_step", false), ("reason", false)]
        case .error: [("message", true), ("details", false)]
        case .note: [("message", true)]
        }
    }

    /// The roots a step's labels may name.
    public static let labelRoots = ["input", "output", "prompt", "response", "plan", "details", "message"]
}

/// One step of a run, in order (`sequence` 1, 2, 3, … within the run).
public struct RunStep: Sendable, Equatable {
    public var id: UUID
    public var tenantID: UUID
    public var runID: UUID
    public var sequence: Int
    public var kind: StepKind
    public var startedAt: Date
    public var endedAt: Date?
    /// The kind's fields (`tool`, `input`, `output`, …), with `secret`-labelled values already
    /// replaced by fingerprints.
    public var data: [String: JSONValue]
    public var labels: [String: DataLabel]
    public var createdBy: String
    public var createdAt: Date

    public init(
        id: UUID, tenantID: UUID, runID: UUID, sequence: Int, kind: StepKind, startedAt: Date, endedAt: Date?, data: [String: JSONValue],
        labels: [String: DataLabel], createdBy: String, createdAt: Date
    ) {
        self.id = id
        self.tenantID = tenantID
        self.runID = runID
        self.sequence = sequence
        self.kind = kind
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.data = data
        self.labels = labels
        self.createdBy = createdBy
        self.createdAt = createdAt
    }
}

/// Filters for listing runs.
public struct RunQuery: Sendable, Equatable {
    public var tenantID: UUID
    public var agentID: String?
    public var status: RunStatus?
    public var since: Date?
    public var until: Date?

    public init(tenantID: UUID, agentID: String? = nil, status: RunStatus? = nil, since: Date? = nil, until: Date? = nil) {
        self.tenantID = tenantID
        self.agentID = agentID
        self.status = status
        self.since = since
        self.until = until
    }
}

/// An operator's word on a run: a note, or a governed exception (an override of a denied decision,
/// with its justification and the policy version it overrode).
public struct RunAnnotation: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case note
        case exception
    }

    public var id: UUID
    public var tenantID: UUID
    public var runID: UUID
    public var kind: Kind
    public var text: String
    public var decisionID: UUID?
    /// For an exception: the version of the bundle whose deny it overrode (`none` if no bundle decided).
    public var policyVersion: String?
    public var createdBy: String
    public var createdAt: Date

    public init(
        id: UUID, tenantID: UUID, runID: UUID, kind: Kind, text: String, decisionID: UUID?, policyVersion: String?, createdBy: String,
        createdAt: Date
    ) {
        self.id = id
        self.tenantID = tenantID
        self.runID = runID
        self.kind = kind
        self.text = text
        self.decisionID = decisionID
        self.policyVersion = policyVersion
        self.createdBy = createdBy
        self.createdAt = createdAt
    }
}

public protocol RunRepository: Sendable {
    func insert(_ run: Run) async throws
    func find(tenantID: UUID, id: UUID) async throws -> Run?
    /// Newest first.
    func list(_ query: RunQuery, _ page: PageRequest) async throws -> Page<Run>
    /// Takes the next step number of a running run (locking it until the transaction ends); `nil`
    /// when the run is not running.
    func nextStep(tenantID: UUID, runID: UUID) async throws -> Int?
    func insert(_ step: RunStep) async throws
    /// Every step, in order.
    func steps(tenantID: UUID, runID: UUID) async throws -> [RunStep]
    /// Ends a running run; `false` if it was not running.
    func end(tenantID: UUID, runID: UUID, status: RunStatus, at: Date, reason: String?, by: String) async throws -> Bool
    /// The decisions and approval requests made with this run id, oldest first.
    func linkedDecisions(tenantID: UUID, runID: String) async throws -> [DecisionRecord]
    func linkedApprovals(tenantID: UUID, runID: String) async throws -> [ApprovalRequest]
    func insert(_ annotation: RunAnnotation) async throws
    /// Oldest first.
    func annotations(tenantID: UUID, runID: UUID) async throws -> [RunAnnotation]
    func step(tenantID: UUID, id: UUID) async throws -> RunStep?
    /// Ids of the tenant's cancelled runs (lowercase), for the decision path.
    func cancelledIDs(tenantID: UUID) async throws -> Set<String>
    /// Stores a compensation's outcome; it joins the ledger.
    func insert(_ compensation: RunCompensation) async throws
    /// Oldest first.
    func compensations(tenantID: UUID, runID: UUID) async throws -> [RunCompensation]
    /// Stores a replay's report; it joins the ledger. A second live replay under the same approval
    /// request is refused (`approval_used`).
    func insert(_ replay: RunReplay) async throws
    /// The replay that created this run, if it is one.
    func replay(tenantID: UUID, runID: UUID) async throws -> RunReplay?
    /// The replays of a run, oldest first.
    func replays(tenantID: UUID, originalRunID: UUID) async throws -> [RunReplay]
}
