public import Foundation

/// Where an approval request is.
public enum ApprovalStatus: String, Sendable, Codable, CaseIterable {
    case pending, approved, rejected, expired, escalated

    /// Approved, rejected or expired: it cannot change any more.
    public var isResolved: Bool { self == .approved || self == .rejected || self == .expired }
}

/// A person's say on a `require_approval` decision.
public struct ApprovalRequest: Sendable, Equatable {
    /// One change of status, or one approver's vote on a two-person request.
    public struct Change: Sendable, Equatable, Codable {
        public var status: ApprovalStatus
        public var actor: String
        public var at: Date
        public var comment: String?

        public init(status: ApprovalStatus, actor: String, at: Date, comment: String?) {
            self.status = status
            self.actor = actor
            self.at = at
            self.comment = comment
        }
    }

    public var id: UUID
    public var tenantID: UUID
    public var agentID: String
    public var tool: String
    public var action: String
    public var input: JSONValue
    public var reason: String?
    public var level: ApprovalLevel
    public var webhookURL: String?
    public var expiresAt: Date
    public var status: ApprovalStatus
    public var history: [Change]
    /// The actors who approved so far (two are needed for `two_person`).
    public var approvals: [String]
    public var webhookAttempts: Int
    public var lastWebhookStatus: Int?
    public var resolvedAt: Date?
    /// The decision that asked for it, when it came from `POST /v1/decide`.
    public var decisionID: UUID?
    /// Who asked: `agent:<id>` or `api_key:<id>`; they may not approve it themselves.
    public var requestedBy: String
    public var idempotencyKey: String?
    public var createdAt: Date
    /// Labels of the input's fields (secret values are already replaced by fingerprints in `input`).
    public var labels: [String: DataLabel] = [:]
    /// How many times it has been escalated (0 while at the first level).
    public var escalationStep: Int = 0
    /// The run it belongs to, if the caller named one: it is linked into that run's ledger.
    public var runID: String?

    public init(
        id: UUID, tenantID: UUID, agentID: String, tool: String, action: String, input: JSONValue, reason: String?, level: ApprovalLevel,
        webhookURL: String?, expiresAt: Date, status: ApprovalStatus = .pending, history: [Change] = [], approvals: [String] = [],
        webhookAttempts: Int = 0, lastWebhookStatus: Int? = nil, resolvedAt: Date? = nil, decisionID: UUID?, requestedBy: String,
        idempotencyKey: String?, createdAt: Date
    ) {
        self.id = id
        self.tenantID = tenantID
        self.agentID = agentID
        self.tool = tool
        self.action = action
        self.input = input
        self.reason = reason
        self.level = level
        self.webhookURL = webhookURL
        self.expiresAt = expiresAt
        self.status = status
        self.history = history
        self.approvals = approvals
        self.webhookAttempts = webhookAttempts
        self.lastWebhookStatus = lastWebhookStatus
        self.resolvedAt = resolvedAt
        self.decisionID = decisionID
        self.requestedBy = requestedBy
        self.idempotencyKey = idempotencyKey
        self.createdAt = createdAt
    }

    /// How many distinct approvers the level needs.
    public var approvalsNeeded: Int { level == .twoPerson ? 2 : 1 }

    /// The webhook body's `approval` object: what a receiver needs to act, with the input redacted
    /// strictly (no pii, confidential or secret values leave Warden).
    public var webhookPayload: [String: JSONValue] {
        let last = history.last
        return [
            "approval": .object([
                "id": .string(id.uuidString.lowercased()), "agent": .string(agentID), "tool": .string(tool), "action": .string(action),
                "input": Redaction.strict(input: input, labels: labels), "reason": reason.map(JSONValue.string) ?? .null,
                "level": .string(level.rawValue), "status": .string(status.rawValue), "escalation_step": .int(Int64(escalationStep)),
                "approvals": .int(Int64(approvals.count)), "approvals_needed": .int(Int64(approvalsNeeded)),
                "expires_at": .string(Timestamp.format(expiresAt)), "resolved_at": resolvedAt.map { .string(Timestamp.format($0)) } ?? .null,
                "decision_id": decisionID.map { .string($0.uuidString.lowercased()) } ?? .null,
                "actor": last.map { .string($0.actor) } ?? .null, "comment": last?.comment.map(JSONValue.string) ?? .null,
            ])
        ]
    }
}

extension ApprovalLevel: Comparable {
    var rank: Int {
        switch self {
        case .autoApprove: 0
        case .manualApprove: 1
        case .twoPerson: 2
        }
    }

    public static func < (lhs: ApprovalLevel, rhs: ApprovalLevel) -> Bool { lhs.rank < rhs.rank }

    /// The level a policy's obligations ask for (`{"approval_level": "two_person"}`), if any. An
    /// unknown level asks for the strictest (fail closed).
    public init?(obligations: JSONValue?) {
        guard case .object(let fields)? = obligations, let value = fields["approval_level"] else { return nil }
        if case .string(let name) = value, let level = ApprovalLevel(rawValue: name) {
            self = level
        } else {
            self = .twoPerson
        }
    }
}

/// The rules of a vote, pure: who may vote, and what the request becomes.
public enum ApprovalRules {
    public enum Vote: Sendable { case approve, reject }

    /// The request after `actor` votes; throws when the vote is not allowed.
    public static func apply(_ vote: Vote, by actor: String, comment: String?, to request: ApprovalRequest, now: Date) throws(WardenError)
        -> ApprovalRequest
    {
        guard !request.status.isResolved else {
            throw WardenError(.approvalResolved, "approval request is already \(request.status.rawValue); it cannot change")
        }
        guard now < request.expiresAt else {
            throw WardenError(.approvalResolved, "approval request expired at \(Timestamp.format(request.expiresAt))")
        }
        guard actor != request.requestedBy else { throw WardenError(.forbidden, "you asked for this approval; someone else must decide it") }
        var next = request
        switch vote {
        case .reject:
            next.status = .rejected
            next.resolvedAt = now
            next.history.append(.init(status: .rejected, actor: actor, at: now, comment: comment))
        case .approve:
            guard !request.approvals.contains(actor) else {
                throw WardenError(.approvalResolved, "you already approved this request; a two-person approval needs someone else")
            }
            next.approvals.append(actor)
            if next.approvals.count >= request.approvalsNeeded {
                next.status = .approved
                next.resolvedAt = now
                next.history.append(.init(status: .approved, actor: actor, at: now, comment: comment))
            } else {
                // The first of two: recorded, still pending.
                next.history.append(
                    .init(status: .pending, actor: actor, at: now, comment: comment.map { "approved (1 of 2): \($0)" } ?? "approved (1 of 2)"))
            }
        }
        return next
    }
}
