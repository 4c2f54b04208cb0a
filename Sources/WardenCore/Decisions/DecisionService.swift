public import Foundation
import Metrics
import Tracing

/// The hot path: snapshot, engine, durable record, answer.
public struct DecisionService: Sendable {
    let snapshots: SnapshotStore
    let log: any DecisionLog
    let clock: any WallClock
    /// Asks an external OPA for bundles that delegate; without one they deny as unavailable.
    let external: (any ExternalPolicyClient)?
    /// The emergency bypass: while on, no bundle is asked.
    public let bypass: PolicyBypass
    /// Fingerprints `secret`-labelled input values before the record is written.
    let secrets: WebhookSecrets
    /// Spans for decisions (`warden.decide`, `warden.policy.evaluate`).
    public let telemetry: Telemetry
    /// The tenants' rate limits, in memory (per replica).
    let limiter = RateLimiter()
    /// Today's spend per tenant and agent, for budgets (per replica).
    public let spend = SpendTracker()
    private let counters: [Effect: Counter]
    private let capabilityViolations: Counter
    /// Decisions the policy failed to make (`policy_error`, `policy_unavailable`): denied, fail closed.
    private let policyErrors = TenantCounters("warden_policy_errors_total")
    private let duration: Metrics.Timer

    public init(
        snapshots: SnapshotStore, log: any DecisionLog, clock: any WallClock, external: (any ExternalPolicyClient)? = nil,
        bypass: PolicyBypass = PolicyBypass(), secrets: WebhookSecrets = WebhookSecrets(master: []), telemetry: Telemetry = .off
    ) {
        self.secrets = secrets
        self.telemetry = telemetry
        self.bypass = bypass
        self.snapshots = snapshots
        self.log = log
        self.clock = clock
        self.external = external
        var counters: [Effect: Counter] = [:]
        for effect in Effect.allCases {
            counters[effect] = Counter(label: "warden_policy_decisions_total", dimensions: [("decision", effect.rawValue)])
        }
        self.counters = counters
        self.capabilityViolations = Counter(label: "warden_capability_violations_total")
        self.duration = Metrics.Timer(label: "warden_decision_duration_seconds", preferredDisplayUnit: .seconds)
    }

    public static func validate(_ request: DecisionRequest) throws(WardenError) {
        try Tool.validate(text: request.tool, field: "tool", max: 100)
        guard !request.tool.isEmpty else { throw WardenError(.invalidField, "tool must not be empty") }
        guard !request.action.isEmpty, request.action.count <= 100 else { throw WardenError(.invalidField, "action must be 1 to 100 characters") }
        try Tool.validate(text: request.runID, field: "run_id", max: 200)
        if let cost = request.cost, !(cost.isFinite && cost >= 0) {
            throw WardenError(.invalidField, "cost must be a finite number of at least 0")
        }
        guard request.input.depth <= 64 else { throw WardenError(.invalidField, "input nests deeper than 64 levels") }
    }

    /// Decides for `agentID` of the tenant and returns the record once it is durable.
    public func decide(tenantID: UUID, agentID: String, _ request: DecisionRequest, traceID: String? = nil) async throws -> DecisionRecord {
        try await telemetry.span("warden.decide") { span in
            span.attributes["warden.tenant_id"] = tenantID.uuidString.lowercased()
            span.attributes["warden.agent"] = agentID
            span.attributes["warden.tool"] = request.tool
            let record = try await record(tenantID: tenantID, agentID: agentID, request, traceID: traceID)
            span.attributes["warden.decision_id"] = record.id.uuidString.lowercased()
            span.attributes["warden.effect"] = record.effect.rawValue
            span.attributes["warden.reasons"] = record.reasons
            if let bundle = record.bundle { span.attributes["warden.bundle"] = bundle }
            return record
        }
    }

    private func record(tenantID: UUID, agentID: String, _ request: DecisionRequest, traceID: String?) async throws -> DecisionRecord {
        let start = ContinuousClock.now
        let now = clock.now()
        try Self.validate(request)
        let snapshot = try await snapshots.snapshot(tenantID: tenantID)
        let tenant = snapshot.tenant
        let outcome = try await telemetry.span("warden.policy.evaluate") { span in
            let result = try await self.outcome(in: snapshot, agentID: agentID, request, now: now, limit: true)
            if let bundle = result.bundle { span.attributes["warden.bundle"] = bundle }
            if let cohort = result.cohort { span.attributes["warden.cohort"] = cohort.rawValue }
            return result
        }
        let evaluated = ContinuousClock.now - start
        var record = DecisionRecord(
            id: UUID.v7(at: now), tenantID: tenantID, agentID: agentID, tool: request.tool, action: request.action,
            input: request.labels.isEmpty ? request.input.canonicalText : storedInput(request, tenantID: tenantID),
            effect: outcome.effect, reasons: outcome.reasons, bundle: outcome.bundle, bundleID: outcome.bundleID, runID: request.runID,
            cost: request.cost,
            evaluatedNanoseconds: evaluated.nanoseconds, createdAt: Timestamp.truncated(now), traceID: traceID, cohort: outcome.cohort
        )
        record.approvalLevel = outcome.approvalLevel
        record.labels = request.labels
        record.retryAfter = outcome.retryAfter
        try await log.append(record)
        if let cost = record.cost, cost > 0, record.effect != .deny {
            let day = SpendTracker.day(now)
            spend.add(cost, tenantID: tenantID, agentID: agentID, day: day)
            if let limit = tenant.limits?.budget?.tenantDaily, limit > 0 {
                spend.recordUsed(tenant, ratio: spend.spent(tenantID: tenantID, agentID: nil, day: day) / limit)
            }
        }
        counters[outcome.effect]?.increment()
        if outcome.isCapabilityViolation { capabilityViolations.increment() }
        if let reason = outcome.reasons.first, reason == DecisionReason.policyError || reason == DecisionReason.policyUnavailable {
            policyErrors.increment(tenant)
        }
        duration.recordNanoseconds(Int64(clamping: (ContinuousClock.now - start).nanoseconds))
        return record
    }
}

extension DecisionService {
    /// Seeds today's spend of every tenant with a budget from the decision log, before the server
    /// serves (budgets count what this replica decides from then on). Tenants without one cost
    /// nothing at start; one that gets a budget later is seeded then (`seedSpend(tenantID:store:)`).
    public func seedSpend(store: any Store) async throws {
        var page = PageRequest(limit: PageRequest.maximumLimit)
        while true {
            let result = try await store.read { [page] in try await $0.tenants.list(page) }
            for tenant in result.items where tenant.limits?.budget != nil { try await seedSpend(tenantID: tenant.id, store: store) }
            guard let next = result.nextCursor else { return }
            page = PageRequest(limit: PageRequest.maximumLimit, after: try Cursor.decode(next))
        }
    }

    /// Replaces the tenant's spend of today with what the decision log holds.
    public func seedSpend(tenantID: UUID, store: any Store) async throws {
        let day = SpendTracker.day(clock.now())
        let midnight = Date(timeIntervalSince1970: Double(day) * 86_400)
        let spent = try await store.read { try await $0.decisions.spend(tenantID: tenantID, since: midnight) }
        spend.replace(spent, tenantID: tenantID, day: day)
    }

    /// The input as the record keeps it: `secret` values replaced by keyed fingerprints.
    func storedInput(_ request: DecisionRequest, tenantID: UUID) -> String {
        let secrets = self.secrets
        return Redaction.storing(input: request.input, labels: request.labels) { secrets.fingerprint(tenantID: tenantID, $0) }.canonicalText
    }

    /// What today's policy answers, with nothing recorded and no metric counted (sandbox replays).
    public func evaluate(tenantID: UUID, agentID: String, _ request: DecisionRequest) async throws -> DecisionOutcome {
        try Self.validate(request)
        return try await outcome(in: try await snapshots.snapshot(tenantID: tenantID), agentID: agentID, request, now: clock.now())
    }

    /// The guardrails first (panic mode, a cancelled run, then, with `limit`, the rate limits), then
    /// the engine. Sandbox replays pass `limit: false`: they take no tokens.
    func outcome(in snapshot: TenantSnapshot, agentID: String, _ request: DecisionRequest, now: Date, limit: Bool = false) async throws
        -> DecisionOutcome
    {
        let tenantID = snapshot.tenant.id
        guard let agent = snapshot.agents[agentID] else {
            throw WardenError(.agentNotFound, "agent '\(agentID)' not found in tenant '\(snapshot.tenant.slug)'")
        }
        if let panic = snapshot.tenant.panic, panic.isActive(at: now) {
            return DecisionOutcome(effect: .deny, reasons: [DecisionReason.tenantPanic])
        }
        if let runID = request.runID, snapshot.cancelledRuns.contains(runID.lowercased()) {
            return DecisionOutcome(effect: .deny, reasons: [DecisionReason.runCancelled])
        }
        if limit, let limits = snapshot.tenant.limits,
            let wait = limiter.take(
                RateLimiter.checks(limits, tenantID: tenantID, agentID: agentID, tool: request.tool), now: now.timeIntervalSince1970)
        {
            limiter.countHit(snapshot.tenant)
            var outcome = DecisionOutcome(effect: .deny, reasons: [DecisionReason.rateLimited])
            outcome.retryAfter = wait
            return outcome
        }
        if limit, let budget = snapshot.tenant.limits?.budget, let cost = request.cost,
            spend.exceeded(budget, cost: cost, tenantID: tenantID, agentID: agentID, day: SpendTracker.day(now)) != nil
        {
            spend.countRejection(snapshot.tenant)
            return DecisionOutcome(effect: .deny, reasons: [DecisionReason.budgetExceeded])
        }
        let bypassed = bypass.isActive
        let verdict = bypassed ? nil : await snapshot.externalVerdict(request, agent: agent, now: now, client: external)
        return DecisionEngine.decide(request, agent: agent, in: snapshot, now: now, verdict: verdict, bypass: bypassed)
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
