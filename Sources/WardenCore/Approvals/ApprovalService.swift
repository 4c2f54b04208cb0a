public import Foundation
import Metrics
import Tracing

/// Approval requests: created by `require_approval` decisions or directly, decided by approvers.
/// Every change that a receiver should hear of queues its webhook deliveries in the same
/// transaction (see ``WebhookDelivery``); the delivery worker sends them.
public struct ApprovalService: Sendable {
    let store: any Store
    let clock: any WallClock
    /// The default wait per escalation step, for levels the tenant gave no timeout.
    let escalateAfter: TimeInterval
    let secrets: WebhookSecrets
    /// Long-polling callers on this replica, woken at each change.
    public let waiters: ChangeWaiters
    /// Rung when deliveries are queued, so the worker sends them at once.
    public let outbox: Doorbell
    /// Spans `warden.approval.create` and `warden.approval.vote`.
    let telemetry: Telemetry

    public init(
        store: any Store, clock: any WallClock, escalateAfter: TimeInterval = 900, secrets: WebhookSecrets = WebhookSecrets(master: []),
        waiters: ChangeWaiters = ChangeWaiters(), outbox: Doorbell = Doorbell(), telemetry: Telemetry = .off
    ) {
        self.telemetry = telemetry
        self.store = store
        self.clock = clock
        self.escalateAfter = escalateAfter
        self.secrets = secrets
        self.waiters = waiters
        self.outbox = outbox
    }

    /// One escalation pass, of one tenant (run by an operator, even while paused) or of every tenant
    /// not paused. A request is escalated one step per timeout of its level (`escalated`, still open to
    /// approvers; the step's level and the request's webhook are told) and expires at its expiry
    /// (`expired`, a denial). Each change is kept in the request's history as `system:escalation`,
    /// audited, and announced by webhook.
    @discardableResult
    public func escalate(tenantID: UUID? = nil) async throws -> (escalated: Int, expired: Int) {
        let now = Timestamp.truncated(clock.now())
        let escalateAfter = self.escalateAfter
        let (escalated, expired, changed) = try await store.write { repos -> (Int, Int, [UUID]) in
            var escalated = 0
            var expired = 0
            var changed: [UUID] = []
            let paused = tenantID == nil ? try await repos.tenants.escalationPausedIDs() : []
            var tenants: [UUID: Tenant] = [:]
            // The background pass over every tenant skips rows another transaction holds (another
            // replica's pass, a vote, a webhook outcome being recorded) and takes them next time; an
            // operator's pass of one tenant waits for them, so it answers for every due request.
            let unresolved = try await repos.approvals.unresolved(
                tenantID: tenantID, createdBefore: now, limit: 10_000, skipLocked: tenantID == nil)
            for var request in unresolved {
                guard !paused.contains(request.tenantID) else { continue }
                if tenants[request.tenantID] == nil { tenants[request.tenantID] = try await repos.tenants.find(id: request.tenantID) }
                guard let tenant = tenants[request.tenantID] else { continue }
                let settings = tenant.approvalSettings ?? ApprovalSettings()
                guard let step = ApprovalRules.escalation(of: request, settings: settings, defaultTimeout: escalateAfter, now: now) else {
                    continue
                }
                var notify: [String] = Self.receiver(of: request, tenant: tenant).map { [$0] } ?? []
                let comment: String
                switch step {
                case .expire:
                    request.status = .expired
                    request.resolvedAt = now
                    comment = "expired at \(Timestamp.format(request.expiresAt)) without a decision (denied)"
                    expired += 1
                case .escalate(let to):
                    request.status = .escalated
                    request.escalationStep = to
                    let level = settings.escalationLevels.indices.contains(to - 1) ? settings.escalationLevels[to - 1] : nil
                    let timeout = Int(settings.timeout(for: request.level, default: escalateAfter))
                    comment = "pending longer than \(timeout * to) s: escalated to \(level.map { "'\($0.name)'" } ?? "the next level") (step \(to))"
                    if let url = level?.webhookURL ?? (settings.escalationLevels.isEmpty ? tenant.notificationURL : nil), !notify.contains(url) {
                        notify.append(url)
                    }
                    escalated += 1
                }
                request.history.append(.init(status: request.status, actor: "system:escalation", at: now, comment: comment))
                try await repos.approvals.update(request)
                try await repos.audit.append(
                    AuditEvent(
                        id: UUID(), tenantID: request.tenantID, actor: "system:escalation", action: "approval.\(request.status.rawValue)",
                        target: "approval:\(request.id.uuidString.lowercased())", reason: comment,
                        details: ["level": request.level.rawValue, "step": String(request.escalationStep)], createdAt: now))
                for url in notify {
                    try await repos.webhooks.insert(
                        WebhookDelivery.make(
                            tenant: tenant, approvalID: request.id, event: "approval.\(request.status.rawValue)", url: url,
                            payload: request.webhookPayload, now: now))
                }
                changed.append(request.id)
            }
            return (escalated, expired, changed)
        }
        Counter(label: "warden_approval_escalations_total").increment(by: escalated)
        Counter(label: "warden_approval_expirations_total").increment(by: expired)
        await recordPending()
        announce(changed)
        return (escalated, expired)
    }

    /// Sets `warden_approval_requests_pending`: pending and escalated requests of all tenants.
    public func recordPending() async {
        if let unresolved = try? await store.read({ try await $0.approvals.unresolvedCount() }) {
            Gauge(label: "warden_approval_requests_pending").record(unresolved)
        }
    }

    /// Wakes long-polling callers of the changed requests, and the delivery worker.
    func announce(_ changed: [UUID]) {
        for id in changed { waiters.signal(id) }
        if !changed.isEmpty { outbox.ring() }
    }

    /// Where the request's changes are announced: its own webhook, else the tenant's approvers' channel.
    static func receiver(of request: ApprovalRequest, tenant: Tenant) -> String? {
        request.webhookURL ?? tenant.approvalSettings?.webhookURL
    }

    /// The request's webhook delivery for `event`, if anyone is to be told.
    static func delivery(_ request: ApprovalRequest, tenant: Tenant, event: String, now: Date) -> WebhookDelivery? {
        receiver(of: request, tenant: tenant).map {
            WebhookDelivery.make(tenant: tenant, approvalID: request.id, event: event, url: $0, payload: request.webhookPayload, now: now)
        }
    }

    /// Pauses or resumes, for one tenant, the escalation pass and the sending of webhooks (admins),
    /// audited; while webhooks are paused they wait in the queue, and resuming sends them.
    public func setPaused(by principal: Principal, tenant: Tenant, escalation: Bool?, webhooks: Bool?, reason: String) async throws -> Tenant {
        guard principal.role == .admin else { throw WardenError(.forbidden, "only an admin may pause or resume escalation and webhooks") }
        let reason = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty else { throw WardenError(.missingField, "pausing or resuming needs a reason") }
        try Tool.validate(text: reason, field: "reason", max: 1000)
        let now = Timestamp.truncated(clock.now())
        let updated = try await store.write { repos in
            guard var current = try await repos.tenants.find(id: tenant.id) else {
                throw WardenError(.tenantNotFound, "tenant '\(tenant.slug)' not found")
            }
            var actions: [String] = []
            if let escalation, escalation != current.escalationPaused {
                current.escalationPaused = escalation
                actions.append(escalation ? "approval.escalation_paused" : "approval.escalation_resumed")
            }
            if let webhooks, webhooks != current.webhooksPaused {
                current.webhooksPaused = webhooks
                actions.append(webhooks ? "webhooks.paused" : "webhooks.resumed")
            }
            guard !actions.isEmpty else { return current }
            try await repos.tenants.update(escalationPaused: current.escalationPaused, webhooksPaused: current.webhooksPaused, tenantID: tenant.id)
            for action in actions {
                try await repos.audit.append(
                    AuditEvent(
                        id: UUID(), tenantID: tenant.id, actor: principal.actor, action: action, target: "tenant:\(tenant.slug)", reason: reason,
                        details: [:], createdAt: now))
            }
            return current
        }
        Self.recordPaused(updated)
        if webhooks == false { outbox.ring() }
        return updated
    }

    /// Sets the pause gauges of the tenant: `warden_approval_escalation_paused` and `warden_webhooks_paused`.
    public static func recordPaused(_ tenant: Tenant) {
        Gauge(label: "warden_approval_escalation_paused", dimensions: [("tenant", tenant.slug)]).record(tenant.escalationPaused ? 1 : 0)
        Gauge(label: "warden_webhooks_paused", dimensions: [("tenant", tenant.slug)]).record(tenant.webhooksPaused ? 1 : 0)
    }

    /// What a caller asks approval for.
    public struct Draft: Sendable {
        public var agentID: String
        public var tool: String
        public var action: String
        public var input: JSONValue
        public var labels: [String: DataLabel]
        public var reason: String?
        public var level: ApprovalLevel
        public var webhookURL: String?
        /// Seconds until it expires; `nil` for the end of the tenant's escalation ladder.
        public var lifetime: TimeInterval?
        public var decisionID: UUID?
        public var requestedBy: String
        public var idempotencyKey: String?
        public var runID: String?

        public init(
            agentID: String, tool: String, action: String, input: JSONValue, labels: [String: DataLabel] = [:], reason: String?,
            level: ApprovalLevel, webhookURL: String? = nil, lifetime: TimeInterval? = nil, decisionID: UUID? = nil, requestedBy: String,
            idempotencyKey: String? = nil, runID: String? = nil
        ) {
            self.runID = runID
            self.agentID = agentID
            self.tool = tool
            self.action = action
            self.input = input
            self.labels = labels
            self.reason = reason
            self.level = level
            self.webhookURL = webhookURL
            self.lifetime = lifetime
            self.decisionID = decisionID
            self.requestedBy = requestedBy
            self.idempotencyKey = idempotencyKey
        }
    }

    /// Creates a pending request, audited, with its `approval.created` webhook queued. Secret input
    /// values are replaced by fingerprints before anything is stored. With an idempotency key already
    /// used in the tenant, the earlier request is returned (`created` false) if it asked for the same
    /// thing, else 409.
    public func create(tenant: Tenant, _ draft: Draft) async throws -> (request: ApprovalRequest, created: Bool) {
        try await telemetry.span("warden.approval.create") { span in
            span.attributes["warden.tenant"] = tenant.slug
            span.attributes["warden.tool"] = draft.tool
            let result = try await createTraced(tenant: tenant, draft)
            span.attributes["warden.approval_id"] = result.request.id.uuidString.lowercased()
            span.attributes["warden.approval_level"] = result.request.level.rawValue
            return result
        }
    }

    private func createTraced(tenant: Tenant, _ draft: Draft) async throws -> (request: ApprovalRequest, created: Bool) {
        if let key = draft.idempotencyKey {
            guard !key.isEmpty, key.utf8.count <= 200 else { throw WardenError(.invalidField, "Idempotency-Key must be 1 to 200 bytes") }
        }
        if let url = draft.webhookURL { try IdentityService.validate(notificationURL: url) }
        try Tool.validate(text: draft.reason, field: "reason", max: 1000)
        try Tool.validate(text: draft.runID, field: "run_id", max: 200)
        if let lifetime = draft.lifetime {
            guard lifetime >= 1, lifetime <= 30 * 86_400 else {
                throw WardenError(.invalidField, "expires_in_seconds must be from 1 to 2592000 (30 days)")
            }
        }
        let now = Timestamp.truncated(clock.now())
        let level = max(draft.level, .manualApprove)
        let lifetime =
            draft.lifetime
            ?? ApprovalRules.defaultLifetime(level: level, settings: tenant.approvalSettings ?? ApprovalSettings(), defaultTimeout: escalateAfter)
        let secrets = self.secrets
        var request = ApprovalRequest(
            id: UUID.v7(at: now), tenantID: tenant.id, agentID: draft.agentID, tool: draft.tool, action: draft.action,
            input: Redaction.storing(input: draft.input, labels: draft.labels) { secrets.fingerprint(tenantID: tenant.id, $0) },
            reason: draft.reason, level: level, webhookURL: draft.webhookURL, expiresAt: now.addingTimeInterval(lifetime),
            history: [.init(status: .pending, actor: draft.requestedBy, at: now, comment: draft.reason)],
            decisionID: draft.decisionID, requestedBy: draft.requestedBy, idempotencyKey: draft.idempotencyKey, createdAt: now)
        request.labels = draft.labels
        request.runID = draft.runID
        let result = try await store.write { [request] repos in
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
            if let delivery = Self.delivery(request, tenant: tenant, event: "approval.created", now: now) {
                try await repos.webhooks.insert(delivery)
            }
            return (request, true)
        }
        if result.1, Self.receiver(of: request, tenant: tenant) != nil { outbox.ring() }
        return result
    }

    /// The request; with `wait`, blocks up to that long (at most 60 s) until it is resolved. A change
    /// made on this replica wakes the caller at once; one made elsewhere is seen within a second.
    public func get(tenant: Tenant, id: UUID, wait: Duration = .zero) async throws -> ApprovalRequest {
        let deadline = ContinuousClock.now + min(wait, .seconds(60))
        while true {
            let request = try await store.read { try await $0.approvals.find(tenantID: tenant.id, id: id) }
            guard var request else { throw WardenError(.approvalNotFound, "approval '\(id.uuidString.lowercased())' not found") }
            if !request.status.isResolved, clock.now() >= request.expiresAt {
                // Past its expiry it reads as expired (denied), whether or not the sweep has run yet.
                request.status = .expired
            }
            let now = ContinuousClock.now
            if request.status.isResolved || now >= deadline || Task.isCancelled { return request }
            await waiters.wait(for: id, upTo: min(deadline - now, .seconds(1)))
        }
    }

    public func list(tenant: Tenant, status: ApprovalStatus?, page: PageRequest) async throws -> Page<ApprovalRequest> {
        try await store.read { try await $0.approvals.list(tenantID: tenant.id, status: status, page) }
    }

    /// An approver's vote (`approver` or `admin`, not the requester): approve or reject, audited; a
    /// request that is resolved by it announces so by webhook.
    public func vote(by principal: Principal, tenant: Tenant, id: UUID, _ vote: ApprovalRules.Vote, comment: String?) async throws
        -> ApprovalRequest
    {
        try await telemetry.span("warden.approval.vote") { span in
            span.attributes["warden.tenant"] = tenant.slug
            span.attributes["warden.approval_id"] = id.uuidString.lowercased()
            span.attributes["warden.vote"] = "\(vote)"
            let request = try await voteTraced(by: principal, tenant: tenant, id: id, vote, comment: comment)
            span.attributes["warden.approval_status"] = request.status.rawValue
            return request
        }
    }

    private func voteTraced(by principal: Principal, tenant: Tenant, id: UUID, _ vote: ApprovalRules.Vote, comment: String?) async throws
        -> ApprovalRequest
    {
        try principal.require(.decideApprovals)
        try Tool.validate(text: comment, field: "comment", max: 2000)
        let now = Timestamp.truncated(clock.now())
        let next = try await store.write { repos in
            guard let request = try await repos.approvals.findForUpdate(tenantID: tenant.id, id: id) else {
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
            if next.status.isResolved, let delivery = Self.delivery(next, tenant: tenant, event: "approval.\(next.status.rawValue)", now: now) {
                try await repos.webhooks.insert(delivery)
            }
            return next
        }
        announce([id])
        return next
    }

    /// Rejects every pending or escalated request of the tenant at once (tenant or global admins), as
    /// the approvals runbook's emergency step asks: each request's history names the actor and reason,
    /// each webhook is told, and one audit event counts them. Returns how many were rejected.
    public func rejectPending(by principal: Principal, tenant: Tenant, reason: String) async throws -> Int {
        guard principal.role == .admin else { throw WardenError(.forbidden, "only an admin may reject every pending request") }
        let reason = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty else { throw WardenError(.missingField, "a mass rejection needs a reason") }
        try Tool.validate(text: reason, field: "reason", max: 1000)
        let now = Timestamp.truncated(clock.now())
        let rejected = try await store.write { repos in
            var rejected: [UUID] = []
            for var request in try await repos.approvals.unresolved(
                tenantID: tenant.id, createdBefore: now.addingTimeInterval(1), limit: 100_000, skipLocked: false)
            {
                request.status = .rejected
                request.resolvedAt = now
                request.history.append(.init(status: .rejected, actor: principal.actor, at: now, comment: reason))
                try await repos.approvals.update(request)
                if let delivery = Self.delivery(request, tenant: tenant, event: "approval.rejected", now: now) {
                    try await repos.webhooks.insert(delivery)
                }
                rejected.append(request.id)
            }
            try await repos.audit.append(
                AuditEvent(
                    id: UUID(), tenantID: tenant.id, actor: principal.actor, action: "approval.mass_rejected", target: "tenant:\(tenant.slug)",
                    reason: reason, details: ["rejected": String(rejected.count)], createdAt: now))
            return rejected
        }
        announce(rejected)
        return rejected.count
    }
}
