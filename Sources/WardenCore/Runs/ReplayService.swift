public import Foundation

/// Replaying a run: a new run, linked to the original, whose tool calls are decided again under
/// today's policy. A sandbox replay feeds back the recorded outputs and calls nothing; a live one
/// (with an approved approval request for the run) calls the tools' endpoints with the original
/// idempotency keys. The report lists, step by step, where the replay diverged.
public struct ReplayService: Sendable {
    let store: any Store
    let clock: any WallClock
    let decisions: DecisionService
    let invoker: any ToolInvoker
    let secrets: WebhookSecrets

    public init(store: any Store, clock: any WallClock, decisions: DecisionService, invoker: any ToolInvoker, secrets: WebhookSecrets) {
        self.store = store
        self.clock = clock
        self.decisions = decisions
        self.invoker = invoker
        self.secrets = secrets
    }

    /// Replays the run up to `untilStep` (admins, operators; audited as `run.replayed`). Live needs
    /// `approvalID`: an approved request of this tenant naming the run (its `run_id`, or
    /// `input.run_id`), used once.
    public func replay(
        by principal: Principal, tenant: Tenant, runID: UUID, mode: ReplayMode, untilStep: Int?, approvalID: UUID?
    ) async throws -> (run: Run, replay: RunReplay) {
        try principal.require(.operateKillSwitch)
        if let untilStep, untilStep < 1 { throw WardenError(.invalidField, "until_step must be 1 or more") }
        let runKey = runID.uuidString.lowercased()
        let (original, steps, decided) = try await store.read { repos in
            guard let run = try await repos.runs.find(tenantID: tenant.id, id: runID) else {
                throw WardenError(.runNotFound, "run '\(runKey)' not found")
            }
            return (
                run, try await repos.runs.steps(tenantID: tenant.id, runID: runID),
                try await repos.runs.linkedDecisions(tenantID: tenant.id, runID: runKey)
            )
        }
        if mode == .live {
            guard let approvalID else {
                throw WardenError(
                    .replayNotApproved, "a live replay needs an approved approval request for the run (approval_id); sandbox needs none")
            }
            try await checkApproval(approvalID, tenant: tenant, runKey: runKey)
        } else if approvalID != nil {
            throw WardenError(.invalidField, "approval_id is for live replays only")
        }
        let now = Timestamp.truncated(clock.now())
        let goal = "replay (\(mode.rawValue)) of run \(runKey): \(original.goal)"
        var replayRun = Run(
            id: UUID.v7(at: now), tenantID: tenant.id, agentID: original.agentID, goal: String(goal.prefix(4000)), plan: original.plan,
            model: original.model, createdBy: principal.actor, createdAt: now)
        let created = replayRun
        try await store.write { try await $0.runs.insert(created) }
        let replayKey = replayRun.id.uuidString.lowercased()
        let byID = Dictionary(decided.map { ($0.id.uuidString.lowercased(), $0) }, uniquingKeysWith: { first, _ in first })
        var lines: [JSONValue] = []
        var divergences = 0
        do {
            for step in steps where untilStep.map({ step.sequence <= $0 }) ?? true {
                var data = step.data
                var line: [String: JSONValue] = ["sequence": .int(Int64(step.sequence)), "kind": .string(step.kind.rawValue)]
                if step.kind == .toolCall {
                    let (diverged, fields) = try await replayToolCall(
                        step, data: &data, tenant: tenant, agentID: original.agentID, mode: mode, replayKey: replayKey, originalKey: runKey,
                        decided: byID)
                    line.merge(fields) { _, new in new }
                    if diverged { divergences += 1 }
                    line["diverged"] = .bool(diverged)
                } else {
                    if step.kind == .modelCall { line["note"] = .string("model response fed back from the record") }
                    line["diverged"] = .bool(false)
                }
                try await append(step, data: data, to: replayRun, by: principal.actor)
                lines.append(.object(line))
            }
        } catch {
            let reason = "replay stopped: \(error is WardenError ? (error as! WardenError).message : "\(type(of: error))")"
            _ = try? await store.write {
                try await $0.runs.end(tenantID: tenant.id, runID: created.id, status: .failed, at: now, reason: reason, by: principal.actor)
            }
            throw error
        }
        let finished = Timestamp.truncated(clock.now())
        let report = JSONValue.object([
            "original_run_id": .string(runKey), "replay_run_id": .string(replayKey), "mode": .string(mode.rawValue),
            "until_step": untilStep.map { .int(Int64($0)) } ?? .null, "steps_replayed": .int(Int64(lines.count)),
            "divergences": .int(Int64(divergences)), "steps": .array(lines),
        ])
        let replay = RunReplay(
            runID: replayRun.id, tenantID: tenant.id, originalRunID: runID, mode: mode, untilStep: untilStep, approvalID: approvalID, report: report,
            createdBy: principal.actor, createdAt: finished)
        let endReason = "replay of \(runKey): \(divergences) divergence(s) in \(lines.count) step(s)"
        let diverged = divergences
        try await store.write { repos in
            try await repos.runs.insert(replay)
            _ = try await repos.runs.end(
                tenantID: tenant.id, runID: created.id, status: .completed, at: finished, reason: endReason, by: principal.actor)
            try await repos.audit.append(
                AuditEvent(
                    id: UUID(), tenantID: tenant.id, actor: principal.actor, action: "run.replayed", target: "run:\(runKey)", reason: nil,
                    details: [
                        "replay_run": replayKey, "mode": mode.rawValue, "divergences": String(diverged),
                        "approval_id": approvalID?.uuidString.lowercased() ?? "",
                    ], createdAt: finished))
        }
        replayRun.status = .completed
        replayRun.endedAt = finished
        replayRun.endReason = endReason
        replayRun.endedBy = principal.actor
        replayRun.stepCount = lines.count
        return (replayRun, replay)
    }

    func checkApproval(_ approvalID: UUID, tenant: Tenant, runKey: String) async throws {
        let (approval, earlier) = try await store.read { repos in
            (
                try await repos.approvals.find(tenantID: tenant.id, id: approvalID),
                try await repos.runs.replays(tenantID: tenant.id, originalRunID: UUID(uuidString: runKey) ?? UUID())
            )
        }
        guard let approval else {
            throw WardenError(.replayNotApproved, "approval request '\(approvalID.uuidString.lowercased())' not found")
        }
        var named = approval.runID == runKey
        if case .object(let input) = approval.input, input["run_id"] == .string(runKey) { named = true }
        guard named else {
            throw WardenError(.replayNotApproved, "approval request '\(approvalID.uuidString.lowercased())' is not for run \(runKey)")
        }
        guard approval.status == .approved else {
            throw WardenError(
                .replayNotApproved, "approval request '\(approvalID.uuidString.lowercased())' is \(approval.status.rawValue), not approved")
        }
        if earlier.contains(where: { $0.approvalID == approvalID }) {
            throw WardenError(.approvalUsed, "approval request '\(approvalID.uuidString.lowercased())' already allowed a live replay")
        }
    }

    /// One tool call: decided again, called in live mode; its report fields and whether it diverged.
    func replayToolCall(
        _ step: RunStep, data: inout [String: JSONValue], tenant: Tenant, agentID: String, mode: ReplayMode, replayKey: String,
        originalKey: String, decided: [String: DecisionRecord]
    ) async throws -> (Bool, [String: JSONValue]) {
        guard case .string(let tool)? = step.data["tool"] else { return (false, ["note": .string("no tool named")]) }
        var original: DecisionRecord?
        if case .string(let id)? = step.data["decision_id"] { original = decided[id.lowercased()] }
        var action = original?.action ?? "call"
        if case .string(let named)? = step.data["action"] { action = named }
        let input = step.data["input"] ?? .object([:])
        let request = DecisionRequest(
            tool: tool, action: action, input: input, runID: replayKey, labels: step.labels.filter { $0.key.hasPrefix("input.") })
        var fields: [String: JSONValue] = [
            "tool": .string(tool), "action": .string(action), "original_decision": original.map { .string($0.effect.rawValue) } ?? .null,
        ]
        data["approval_id"] = nil
        let effect: Effect
        if mode == .sandbox {
            let outcome = try await decisions.evaluate(tenantID: tenant.id, agentID: agentID, request)
            effect = outcome.effect
            fields["reasons"] = .array(outcome.reasons.map(JSONValue.string))
            fields["bundle"] = outcome.bundle.map(JSONValue.string) ?? .null
            data["decision_id"] = nil
        } else {
            let record = try await decisions.decide(tenantID: tenant.id, agentID: agentID, request)
            effect = record.effect
            fields["reasons"] = .array(record.reasons.map(JSONValue.string))
            fields["bundle"] = record.bundle.map(JSONValue.string) ?? .null
            fields["decision_id"] = .string(record.id.uuidString.lowercased())
            data["decision_id"] = .string(record.id.uuidString.lowercased())
        }
        fields["replayed_decision"] = .string(effect.rawValue)
        let decisionChanged = original.map { $0.effect != effect } ?? false
        fields["decision_changed"] = .bool(decisionChanged)
        guard mode == .live else {
            fields["called"] = .bool(false)
            fields["note"] = .string("recorded output fed back; nothing called")
            return (decisionChanged, fields)
        }
        guard effect == .allow else {
            fields["called"] = .bool(false)
            fields["note"] = .string("not called: today's policy answers \(effect.rawValue)")
            data["output"] = nil
            return (decisionChanged || original == nil, fields)
        }
        guard case .string(let idempotencyKey)? = step.data["idempotency_key"] else {
            fields["called"] = .bool(false)
            fields["note"] = .string("not called: the original call has no idempotency key, so calling again could repeat its effect")
            return (decisionChanged, fields)
        }
        let registered = try await store.read { try await $0.tools.find(tenantID: tenant.id, name: tool) }
        guard let registered, registered.isActive, let endpoint = registered.endpoint else {
            fields["called"] = .bool(false)
            fields["note"] = .string("not called: " + (Tool.uncallable(registered, name: tool) ?? "tool '\(tool)' cannot be called"))
            return (true, fields)
        }
        let answer = await invoker.invoke(
            tenantID: tenant.id, endpoint: endpoint, idempotencyKey: idempotencyKey,
            body: .object([
                "type": .string("replay"), "tenant": .string(tenant.slug), "run_id": .string(replayKey), "original_run_id": .string(originalKey),
                "step": .int(Int64(step.sequence)), "tool": .string(tool), "action": .string(action), "input": input,
                "idempotency_key": .string(idempotencyKey),
            ]))
        fields["called"] = .bool(true)
        fields["status"] = answer.status.map { .int(Int64($0)) } ?? .null
        guard answer.succeeded else {
            fields["note"] = .string(answer.error ?? "the endpoint answered \(answer.status ?? 0)")
            data["output"] = nil
            return (true, fields)
        }
        // Compared as stored: secret-labelled parts of the new output become fingerprints too.
        let secrets = self.secrets
        let stored = Redaction.unwrap(
            Redaction.storing(.object(["output": answer.output]), labels: step.labels) { secrets.fingerprint(tenantID: tenant.id, $0) },
            key: "output")
        let differs = stored.canonicalText != (step.data["output"] ?? .null).canonicalText
        fields["output_differs"] = .bool(differs)
        data["output"] = stored
        return (decisionChanged || differs, fields)
    }

    func append(_ step: RunStep, data: [String: JSONValue], to run: Run, by actor: String) async throws {
        let now = Timestamp.truncated(clock.now())
        try await store.write { repos in
            guard let sequence = try await repos.runs.nextStep(tenantID: run.tenantID, runID: run.id) else {
                throw WardenError(.runEnded, "the replay run ended while it was replaying")
            }
            try await repos.runs.insert(
                RunStep(
                    id: UUID.v7(at: now), tenantID: run.tenantID, runID: run.id, sequence: sequence, kind: step.kind, startedAt: now, endedAt: now,
                    data: data, labels: step.labels, createdBy: actor, createdAt: now))
        }
    }
}
