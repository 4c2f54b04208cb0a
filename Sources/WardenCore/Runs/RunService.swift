public import Foundation

/// Runs and their steps: the execution ledger's records of what an agent did.
public struct RunService: Sendable {
    let store: any Store
    let clock: any WallClock
    let secrets: WebhookSecrets

    public init(store: any Store, clock: any WallClock, secrets: WebhookSecrets) {
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
        return try await store.write { repos in
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
            var ended = run
            ended.status = status
            ended.endedAt = now
            ended.endReason = reason
            ended.endedBy = actor
            return ended
        }
    }

    /// The whole run: its steps in order, and the decisions and approval requests made with its id.
    public func timeline(tenant: Tenant, id: UUID) async throws -> (
        run: Run, steps: [RunStep], decisions: [DecisionRecord], approvals: [ApprovalRequest]
    ) {
        try await store.read { repos in
            guard let run = try await repos.runs.find(tenantID: tenant.id, id: id) else {
                throw WardenError(.runNotFound, "run '\(id.uuidString.lowercased())' not found")
            }
            let key = id.uuidString.lowercased()
            return (
                run, try await repos.runs.steps(tenantID: tenant.id, runID: id),
                try await repos.runs.linkedDecisions(tenantID: tenant.id, runID: key),
                try await repos.runs.linkedApprovals(tenantID: tenant.id, runID: key)
            )
        }
    }

    /// A step or plan of at most 1 MiB as JSON.
    static func limit(_ value: JSONValue, field: String) throws(WardenError) {
        guard value.canonicalBytes.count <= 1 << 20 else { throw WardenError(.payloadTooLarge, "\(field) is larger than 1 MiB") }
    }
}
