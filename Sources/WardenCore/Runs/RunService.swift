public import Foundation

/// Runs and their steps: the execution ledger's records of what an agent did.
public struct RunService: Sendable {
    let store: any Store
    let clock: any WallClock
    let secrets: WebhookSecrets
    /// Told of cancelled runs, so later decisions naming them are denied at once.
    let snapshots: SnapshotStore?

    public init(store: any Store, clock: any WallClock, secrets: WebhookSecrets, snapshots: SnapshotStore? = nil) {
        self.snapshots = snapshots
        self.store = store
        self.clock = clock
        self.secrets = secrets
    }

    /// Opens a run for an agent of the tenant.
    public func create(tenant: Tenant, agentID: String, goal: String, plan: JSONValue?, model: String?, by actor: String) async throws -> Run {
        let goal = goal.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !goal.isEmpty else { throw WardenError(.missingField, "a run needs a goal") }
        try Tool.validate(text: goal, field: "goal", max: 4000)
        try Tool.validate(text: model, field: "model", max: 200)
        if let plan { try Self.limit(plan, field: "plan") }
        let now = Timestamp.truncated(clock.now())
        let run = Run(
            id: UUID.v7(at: now), tenantID: tenant.id, agentID: agentID, goal: goal, plan: plan, model: model, createdBy: actor, createdAt: now)
        try await store.write { repos in
            guard try await repos.agents.find(tenantID: tenant.id, agentID: agentID) != nil else {
                throw WardenError(.agentNotFound, "agent '\(agentID)' not found in tenant '\(tenant.slug)'")
            }
            try await repos.runs.insert(run)
        }
        return run
    }

    public func find(tenant: Tenant, id: UUID) async throws -> Run {
        guard let run = try await store.read({ try await $0.runs.find(tenantID: tenant.id, id: id) }) else {
            throw WardenError(.runNotFound, "run '\(id.uuidString.lowercased())' not found")
        }
        return run
    }

    public func list(_ query: RunQuery, page: PageRequest) async throws -> Page<Run> {
        try await store.read { try await $0.runs.list(query, page) }
    }

    /// What one step says: its kind's fields, times and labels, as the API took them.
    public struct StepDraft: Sendable {
        public var kind: StepKind
        public var startedAt: Date?
        public var endedAt: Date?
        public var data: [String: JSONValue]
        public var labels: [String: DataLabel]

        public init(kind: StepKind, startedAt: Date?, endedAt: Date?, data: [String: JSONValue], labels: [String: DataLabel]) {
            self.kind = kind
            self.startedAt = startedAt
            self.endedAt = endedAt
            self.data = data
            self.labels = labels
        }
    }

    /// Appends a step to a running run (409 `run_ended` otherwise). `secret`-labelled values are
    /// replaced by keyed fingerprints before anything is stored.
    public func append(tenant: Tenant, runID: UUID, _ draft: StepDraft, by actor: String) async throws -> RunStep {
        for (name, required) in draft.kind.fields where required && (draft.data[name] == nil || draft.data[name] == .null) {
            throw WardenError(.missingField, "a \(draft.kind.rawValue) step needs '\(name)'")
        }
        let allowed = Set(draft.kind.fields.map(\.name))
        if let unknown = draft.data.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw WardenError(
                .invalidField,
                "a \(draft.kind.rawValue) step has no field '\(unknown)' (it takes \(draft.kind.fields.map(\.name).joined(separator: ", ")))")
        }
        try Self.limit(.object(draft.data), field: "step")
        let now = Timestamp.truncated(clock.now())
        let started = draft.startedAt ?? now
        if let ended = draft.endedAt, ended < started { throw WardenError(.invalidField, "ended_at is before started_at") }
        let secrets = self.secrets
        let stored = Redaction.storing(.object(draft.data), labels: draft.labels) { secrets.fingerprint(tenantID: tenant.id, $0) }
        guard case .object(let data) = stored else { throw WardenError(.invalidField, "a step's fields must be an object") }
        return try await store.write { repos in
            guard let sequence = try await repos.runs.nextStep(tenantID: tenant.id, runID: runID) else {
                guard let run = try await repos.runs.find(tenantID: tenant.id, id: runID) else {
                    throw WardenError(.runNotFound, "run '\(runID.uuidString.lowercased())' not found")
                }
                throw WardenError(.runEnded, "run is \(run.status.rawValue); no more steps can be added")
            }
            let step = RunStep(
                id: UUID.v7(at: now), tenantID: tenant.id, runID: runID, sequence: sequence, kind: draft.kind, startedAt: started,
                endedAt: draft.endedAt, data: data, labels: draft.labels, createdBy: actor, createdAt: now)
            try await repos.runs.insert(step)
            return step
        }
    }

    /// Completes, fails or cancels a running run (409 `run_ended` if it already ended). Cancelling is
    /// an operator action when an API key does it, and is audited then.
    public func end(tenant: Tenant, runID: UUID, as status: RunStatus, reason: String?, by actor: String) async throws -> Run {
        guard status.isEnded else { throw WardenError(.invalidField, "a run ends as completed, failed or cancelled") }
        try Tool.validate(text: reason, field: "reason", max: 2000)
        if status != .completed, (reason ?? "").trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            throw WardenError(.missingField, "a \(status == .failed ? "failed" : "cancelled") run needs a reason")
        }
        let now = Timestamp.truncated(clock.now())
        let ended = try await store.write { repos in
            guard let run = try await repos.runs.find(tenantID: tenant.id, id: runID) else {
                throw WardenError(.runNotFound, "run '\(runID.uuidString.lowercased())' not found")
            }
            guard try await repos.runs.end(tenantID: tenant.id, runID: runID, status: status, at: now, reason: reason, by: actor) else {
                throw WardenError(.runEnded, "run is already \(run.status.rawValue)")
            }
            if status == .cancelled, actor.hasPrefix("api_key:") {
                try await repos.audit.append(
                    AuditEvent(
                        id: UUID(), tenantID: tenant.id, actor: actor, action: "run.cancelled", target: "run:\(runID.uuidString.lowercased())",
                        reason: reason, details: ["agent": run.agentID], createdAt: now))
            }
            var closed = run
            closed.status = status
            closed.endedAt = now
            closed.endReason = reason
            closed.endedBy = actor
            return closed
        }
        if status == .cancelled { snapshots?.apply(cancelledRun: runID.uuidString.lowercased(), tenantID: tenant.id) }
        return ended
    }

    /// Everything recorded about one run.
    public struct Timeline: Sendable {
        public var run: Run
        public var steps: [RunStep]
        public var decisions: [DecisionRecord]
        public var approvals: [ApprovalRequest]
        public var annotations: [RunAnnotation]
        public var compensations: [RunCompensation]
        /// The replay that made this run, if it is a replay; and the replays of this run.
        public var replay: RunReplay?
        public var replays: [RunReplay]
    }

    /// The whole run, in one read: its steps in order, the decisions and approval requests made with
    /// its id, and operators' annotations.
    public func timeline(tenant: Tenant, id: UUID) async throws -> Timeline {
        try await store.read { repos in
            guard let run = try await repos.runs.find(tenantID: tenant.id, id: id) else {
                throw WardenError(.runNotFound, "run '\(id.uuidString.lowercased())' not found")
            }
            let key = id.uuidString.lowercased()
            return Timeline(
                run: run, steps: try await repos.runs.steps(tenantID: tenant.id, runID: id),
                decisions: try await repos.runs.linkedDecisions(tenantID: tenant.id, runID: key),
                approvals: try await repos.runs.linkedApprovals(tenantID: tenant.id, runID: key),
                annotations: try await repos.runs.annotations(tenantID: tenant.id, runID: id),
                compensations: try await repos.runs.compensations(tenantID: tenant.id, runID: id),
                replay: try await repos.runs.replay(tenantID: tenant.id, runID: id),
                replays: try await repos.runs.replays(tenantID: tenant.id, originalRunID: id))
        }
    }

    /// Records an operator's note on a run, or a governed exception: the override of one of the run's
    /// denied decisions, with a justification, recording the policy version it overrode. Both join
    /// the ledger; an exception is also audited. Keys only (operators and admins for exceptions).
    public func annotate(
        by principal: Principal, tenant: Tenant, runID: UUID, kind: RunAnnotation.Kind, text: String, decisionID: UUID?
    ) async throws -> RunAnnotation {
        let text = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else {
            throw WardenError(.missingField, kind == .exception ? "an exception needs a justification" : "an annotation needs text")
        }
        try Tool.validate(text: text, field: kind == .exception ? "justification" : "text", max: 4000)
        if kind == .exception {
            try principal.require(.operateKillSwitch)
            guard decisionID != nil else { throw WardenError(.missingField, "an exception names the denied decision it overrides (decision_id)") }
        } else {
            try principal.require(.readDecisions)
        }
        let now = Timestamp.truncated(clock.now())
        return try await store.write { repos in
            guard let run = try await repos.runs.find(tenantID: tenant.id, id: runID) else {
                throw WardenError(.runNotFound, "run '\(runID.uuidString.lowercased())' not found")
            }
            var policyVersion: String?
            if let decisionID {
                guard let decision = try await repos.decisions.find(tenantID: tenant.id, id: decisionID),
                    decision.runID == run.id.uuidString.lowercased()
                else {
                    throw WardenError(.decisionNotFound, "decision '\(decisionID.uuidString.lowercased())' is not one of this run's")
                }
                if kind == .exception {
                    guard decision.effect == .deny else {
                        throw WardenError(.invalidField, "only a denied decision can be overridden (this one is \(decision.effect.rawValue))")
                    }
                    policyVersion = decision.bundle ?? "none"
                }
            }
            let annotation = RunAnnotation(
                id: UUID.v7(at: now), tenantID: tenant.id, runID: runID, kind: kind, text: text, decisionID: decisionID, policyVersion: policyVersion,
                createdBy: principal.actor, createdAt: now)
            try await repos.runs.insert(annotation)
            if kind == .exception {
                try await repos.audit.append(
                    AuditEvent(
                        id: UUID(), tenantID: tenant.id, actor: principal.actor, action: "run.exception",
                        target: "decision:\(decisionID?.uuidString.lowercased() ?? "")", reason: text,
                        details: ["run": runID.uuidString.lowercased(), "policy_version": policyVersion ?? "none"], createdAt: now))
            }
            return annotation
        }
    }

    /// A step or plan of at most 1 MiB as JSON.
    static func limit(_ value: JSONValue, field: String) throws(WardenError) {
        guard value.canonicalBytes.count <= 1 << 20 else { throw WardenError(.payloadTooLarge, "\(field) is larger than 1 MiB") }
    }
}
