public import Foundation

/// Undoing a run's side effects: every completed tool call that declares a compensation is undone
/// by calling the compensating tool's endpoint, newest first, and each outcome joins the ledger.
public struct CompensationService: Sendable {
    let store: any Store
    let clock: any WallClock
    let invoker: any ToolInvoker

    public init(store: any Store, clock: any WallClock, invoker: any ToolInvoker) {
        self.store = store
        self.clock = clock
        self.invoker = invoker
    }

    /// What a tool call says to undo it: its own `compensation` (a tool name, or `{tool, action?,
    /// input?}`), else the compensation its tool was registered with.
    struct Plan: Equatable {
        var tool: String
        var action: String
        var input: JSONValue?
    }

    static func plan(for step: RunStep, registered: String?) -> Plan? {
        switch step.data["compensation"] {
        case .string(let tool)?: return Plan(tool: tool, action: "compensate", input: nil)
        case .object(let fields)?:
            guard case .string(let tool)? = fields["tool"] else { return nil }
            var action = "compensate"
            if case .string(let named)? = fields["action"] { action = named }
            return Plan(tool: tool, action: action, input: fields["input"])
        default: return registered.map { Plan(tool: $0, action: "compensate", input: nil) }
        }
    }

    /// Compensates the run's tool calls in reverse order (admins, operators; audited as
    /// `run.rolled_back`). A call already compensated by an earlier rollback is not called again;
    /// each outcome is stored as soon as it is known, so a rollback cut short keeps what it did.
    public func rollback(by principal: Principal, tenant: Tenant, runID: UUID, reason: String) async throws -> [RunCompensation] {
        try principal.require(.operateKillSwitch)
        let reason = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty else { throw WardenError(.missingField, "a rollback needs a reason") }
        try Tool.validate(text: reason, field: "reason", max: 2000)
        let (run, steps, done) = try await store.read { repos in
            guard let run = try await repos.runs.find(tenantID: tenant.id, id: runID) else {
                throw WardenError(.runNotFound, "run '\(runID.uuidString.lowercased())' not found")
            }
            let done = Set(try await repos.runs.compensations(tenantID: tenant.id, runID: runID).filter { $0.status == .succeeded }.map(\.stepID))
            return (run, try await repos.runs.steps(tenantID: tenant.id, runID: runID), done)
        }
        let runKey = run.id.uuidString.lowercased()
        var outcomes: [RunCompensation] = []
        for step in steps.reversed() where step.kind == .toolCall && !done.contains(step.id) {
            guard case .string(let toolName)? = step.data["tool"] else { continue }
            let now = Timestamp.truncated(clock.now())
            var outcome = RunCompensation(
                id: UUID.v7(at: now), tenantID: tenant.id, runID: runID, stepID: step.id, stepSequence: step.sequence, tool: toolName,
                compensationTool: nil, status: .skipped, httpStatus: nil, detail: nil, reason: reason, requestedBy: principal.actor, createdAt: now)
            let registered = try await store.read { try await $0.tools.find(tenantID: tenant.id, name: toolName) }
            if step.endedAt == nil {
                outcome.detail = "the call never completed (no ended_at): nothing to undo"
            } else if let plan = Self.plan(for: step, registered: registered?.compensation) {
                outcome.compensationTool = plan.tool
                let compensating = try await store.read { try await $0.tools.find(tenantID: tenant.id, name: plan.tool) }
                if let compensating, compensating.isActive, let endpoint = compensating.endpoint {
                    let body = JSONValue.object([
                        "type": .string("compensation"), "tenant": .string(tenant.slug), "run_id": .string(runKey),
                        "step_id": .string(step.id.uuidString.lowercased()), "tool": .string(plan.tool), "action": .string(plan.action),
                        "input": plan.input ?? step.data["input"] ?? .null,
                        "original": .object([
                            "tool": .string(toolName), "action": step.data["action"] ?? .null, "input": step.data["input"] ?? .null,
                            "output": step.data["output"] ?? .null, "idempotency_key": step.data["idempotency_key"] ?? .null,
                        ]),
                        "reason": .string(reason),
                    ])
                    let answer = await invoker.invoke(
                        tenantID: tenant.id, endpoint: endpoint, idempotencyKey: "compensate:\(step.id.uuidString.lowercased())", body: body)
                    outcome.status = answer.succeeded ? .succeeded : .failed
                    outcome.httpStatus = answer.status
                    outcome.detail = answer.succeeded ? nil : (answer.error ?? "the compensating endpoint answered \(answer.status ?? 0)")
                } else {
                    outcome.status = .failed
                    outcome.detail = Tool.uncallable(compensating, name: plan.tool).map { "compensating \($0)" }
                }
            } else {
                outcome.status = .notCompensable
                outcome.detail = "no compensation declared: its effects remain"
            }
            outcome.createdAt = Timestamp.truncated(clock.now())
            let stored = outcome
            try await store.write { try await $0.runs.insert(stored) }
            outcomes.append(stored)
        }
        let counts = Dictionary(grouping: outcomes, by: \.status).mapValues(\.count)
        let now = Timestamp.truncated(clock.now())
        try await store.write { repos in
            try await repos.audit.append(
                AuditEvent(
                    id: UUID(), tenantID: tenant.id, actor: principal.actor, action: "run.rolled_back", target: "run:\(runKey)", reason: reason,
                    details: Dictionary(
                        uniqueKeysWithValues: RunCompensation.Status.allCases.map { ($0.rawValue, String(counts[$0] ?? 0)) }), createdAt: now))
        }
        return outcomes
    }

    public func list(tenant: Tenant, runID: UUID) async throws -> [RunCompensation] {
        try await store.read { try await $0.runs.compensations(tenantID: tenant.id, runID: runID) }
    }
}
