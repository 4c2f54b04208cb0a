public import Foundation
import Metrics

/// Approval requests: created by `require_approval` decisions or directly, decided by approvers.
public struct ApprovalService: Sendable {
    let store: any Store
    let clock: any WallClock
    /// How long a pending request waits before it is escalated (the next level is told).
    let escalateAfter: TimeInterval
    /// How long a request waits for a person before it expires (denied).
    public static let defaultLifetime: TimeInterval = 3600

    public init(store: any Store, clock: any WallClock, escalateAfter: TimeInterval = 900) {
        self.store = store
        self.clock = clock
        self.escalateAfter = escalateAfter
    }

    /// One escalation pass: pending requests older than `escalateAfter` become `escalated` (still open
    /// to approvers), and unresolved requests past their expiry become `expired` (denied). Each change
    /// is kept in the request's history as `system:escalation` and audited. Of one tenant, or all.
    @discardableResult
    public func escalate(tenantID: UUID? = nil) async throws -> (escalated: Int, expired: Int) {
        let now = Timestamp.truncated(clock.now())
        let escalateAfter = self.escalateAfter
        let counts = try await store.write { repos -> (Int, Int) in
            var escalated = 0
            var expired = 0
            // Anything created before now may be due; those created within `escalateAfter` can only expire.
            for var request in try await repos.approvals.unresolved(tenantID: tenantID, createdBefore: now, limit: 10_000) {
                let next: ApprovalStatus
                if now >= request.expiresAt {
                    next = .expired
                } else if request.status == .pending, now.timeIntervalSince(request.createdAt) >= escalateAfter {
                    next = .escalated
                } else {
                    continue
                }
                request.status = next
                if next == .expired { request.resolvedAt = now }
                let comment =
                    next == .expired
                    ? "expired at \(Timestamp.format(request.expiresAt)) without a decision (denied)"
                    : "pending longer than \(Int(escalateAfter)) s: escalated to the next level"
                request.history.append(.init(status: next, actor: "system:escalation", at: now, comment: comment))
                try await repos.approvals.update(request)
                try await repos.audit.append(
                    AuditEvent(
                        id: UUID(), tenantID: request.tenantID, actor: "system:escalation", action: "approval.\(next.rawValue)",
                        target: "approval:\(request.id.uuidString.lowercased())", reason: comment, details: ["level": request.level.rawValue],
                        createdAt: now))
                if next == .expired { expired += 1 } else { escalated += 1 }
            }
            return (escalated, expired)
        }
        Counter(label: "warden_approval_escalations_total").increment(by: counts.0)
        Counter(label: "warden_approval_expirations_total").increment(by: counts.1)
        if let unresolved = try? await store.read({ try await $0.approvals.unresolvedCount() }) {
            Gauge(label: "warden_approval_requests_pending").record(unresolved)
        }
        return counts
    }

    /// What a caller asks approval for.
    public struct Draft: Sendable {
        public var agentID: String
        public var tool: String
        public var action: String
        public var input: JSONValue
        public var reason: String?
        public var level: ApprovalLevel
        public var webhookURL: String?
        public var lifetime: TimeInterval
        public var decisionID: UUID?
        public var requestedBy: String
        public var idempotencyKey: String?

        public init(
            agentID: String, tool: String, action: String, input: JSONValue, reason: String?, level: ApprovalLevel, webhookURL: String? = nil,
            lifetime: TimeInterval = ApprovalService.defaultLifetime, decisionID: UUID? = nil, requestedBy: String, idempotencyKey: String? = nil
        ) {
            self.agentID = agentID
            self.tool = tool
            self.action = action
            self.input = input
            self.reason = reason
            self.level = level
            self.webhookURL = webhookURL
            self.lifetime = lifetime
            self.decisionID = decisionID
            self.requestedBy = requestedBy
            self.idempotencyKey = idempotencyKey
        }
    }

    /// Creates a pending request, audited. With an idempotency key already used in the tenant, the
    /// earlier request is returned (`created` false) if it asked for the same thing, else 409.
    public func create(tenant: Tenant, _ draft: Draft) async throws -> (request: ApprovalRequest, created: Bool) {
        if let key = draft.idempotencyKey {
            guard !key.isEmpty, key.utf8.count <= 200 else { throw WardenError(.invalidField, "Idempotency-Key must be 1 to 200 bytes") }
        }
        if let url = draft.webhookURL { try IdentityService.validate(notificationURL: url) }
        try Tool.validate(text: draft.reason, field: "reason", max: 1000)
        guard draft.lifetime >= 1, draft.lifetime <= 30 * 86_400 else {
            throw WardenError(.invalidField, "expires_in_seconds must be from 1 to 2592000 (30 days)")
        }
        let now = Timestamp.truncated(clock.now())
        let request = ApprovalRequest(
            id: UUID.v7(at: now), tenantID: tenant.id, agentID: draft.agentID, tool: draft.tool, action: draft.action, input: draft.input,
            reason: draft.reason, level: draft.level == .autoApprove ? .manualApprove : draft.level, webhookURL: draft.webhookURL,
            expiresAt: now.addingTimeInterval(draft.lifetime),
            history: [.init(status: .pending, actor: draft.requestedBy, at: now, comment: draft.reason)],
            decisionID: draft.decisionID, requestedBy: draft.requestedBy, idempotencyKey: draft.idempotencyKey, createdAt: now)
        return try await store.write { repos in
            if let key = draft.idempotencyKey, let existing = try await repos.approvals.find(tenantID: tenant.id, idempotencyKey: key) {
                guard existing.agentID == request.agentID, existing.tool == request.tool, existing.action == request.action,
                    existing.input == request.input
                else {
                    throw WardenError(.idempotencyConflict, "Idempotency-Key '\(key)' was used for a different approval request")
                }
                return (existing, false)
            }
            try await repos.approvals.insert(request)
            try await repos.audit.append(
                AuditEvent(
                    id: UUID(), tenantID: tenant.id, actor: draft.requestedBy, action: "approval.created",
                    target: "approval:\(request.id.uuidString.lowercased())", reason: draft.reason,
                    details: ["agent": request.agentID, "tool": request.tool, "action": request.action, "level": request.level.rawValue],
                    createdAt: now))
            return (request, true)
        }
    }

    /// The request; with `wait`, blocks up to that long (at most 60 s) until it is resolved.
    public func get(tenant: Tenant, id: UUID, wait: Duration = .zero) async throws -> ApprovalRequest {
        let deadline = ContinuousClock.now + min(wait, .seconds(60))
        while true {
            let request = try await store.read { try await $0.approvals.find(tenantID: tenant.id, id: id) }
            guard var request else { throw WardenError(.approvalNotFound, "approval '\(id.uuidString.lowercased())' not found") }
            if !request.status.isResolved, clock.now() >= request.expiresAt {
                // Past its expiry it reads as expired (denied), whether or not the sweep has run yet.
                request.status = .expired
            }
            if request.status.isResolved || ContinuousClock.now >= deadline { return request }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    public func list(tenant: Tenant, status: ApprovalStatus?, page: PageRequest) async throws -> Page<ApprovalRequest> {
        try await store.read { try await $0.approvals.list(tenantID: tenant.id, status: status, page) }
    }

    /// An approver's vote (`approver` or `admin`, not the requester): approve or reject, audited.
    public func vote(by principal: Principal, tenant: Tenant, id: UUID, _ vote: ApprovalRules.Vote, comment: String?) async throws
        -> ApprovalRequest
    {
        try principal.require(.decideApprovals)
        try Tool.validate(text: comment, field: "comment", max: 2000)
        let now = Timestamp.truncated(clock.now())
        return try await store.write { repos in
            guard let request = try await repos.approvals.find(tenantID: tenant.id, id: id) else {
                throw WardenError(.approvalNotFound, "approval '\(id.uuidString.lowercased())' not found")
            }
            let next = try ApprovalRules.apply(vote, by: principal.actor, comment: comment, to: request, now: now)
            try await repos.approvals.update(next)
            try await repos.audit.append(
                AuditEvent(
                    id: UUID(), tenantID: tenant.id, actor: principal.actor,
                    action: vote == .approve ? (next.status == .approved ? "approval.approved" : "approval.vote") : "approval.rejected",
                    target: "approval:\(id.uuidString.lowercased())", reason: comment,
                    details: ["status": next.status.rawValue, "approvals": String(next.approvals.count)], createdAt: now))
            return next
        }
    }

    /// Rejects every pending request of the tenant at once (tenant or global admins), as the approvals
    /// runbook's emergency step asks: each request's history names the actor and reason, and one audit
    /// event counts them. Returns how many were rejected.
    public func rejectPending(by principal: Principal, tenant: Tenant, reason: String) async throws -> Int {
        guard principal.role == .admin else { throw WardenError(.forbidden, "only an admin may reject every pending request") }
        let reason = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty else { throw WardenError(.missingField, "a mass rejection needs a reason") }
        try Tool.validate(text: reason, field: "reason", max: 1000)
        let now = Timestamp.truncated(clock.now())
        return try await store.write { repos in
            var rejected = 0
            var page = PageRequest(limit: PageRequest.maximumLimit)
            var pending: [ApprovalRequest] = []
            while true {
                let result = try await repos.approvals.list(tenantID: tenant.id, status: .pending, page)
                pending += result.items
                guard let next = result.nextCursor else { break }
                page.after = try Cursor.decode(next)
            }
            for var request in pending {
                request.status = .rejected
                request.resolvedAt = now
                request.history.append(.init(status: .rejected, actor: principal.actor, at: now, comment: reason))
                try await repos.approvals.update(request)
                rejected += 1
            }
            try await repos.audit.append(
                AuditEvent(
                    id: UUID(), tenantID: tenant.id, actor: principal.actor, action: "approval.mass_rejected", target: "tenant:\(tenant.slug)",
                    reason: reason, details: ["rejected": String(rejected)], createdAt: now))
            return rejected
        }
    }
}
