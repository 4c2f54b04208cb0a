import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import WardenCore

/// `/v1/tenants/{tenant}/runs`: what agents did, step by step, with the decisions and approval
/// requests made under each run's id. Agents write their own runs with their token; keys that may
/// decide write any agent's; keys that read decisions read them.
struct RunController {
    let scope: TenantScope
    let runs: RunService
    let compensations: CompensationService
    let replays: ReplayService

    func addRoutes(to group: RouterGroup<WardenRequestContext>) {
        group.post("/tenants/{tenant}/runs", use: create)
        group.get("/tenants/{tenant}/runs", use: list)
        group.get("/tenants/{tenant}/runs/{run}", use: show)
        group.post("/tenants/{tenant}/runs/{run}/steps", use: append)
        group.post("/tenants/{tenant}/runs/{run}/complete") { try await end($0, $1, as: .completed) }
        group.post("/tenants/{tenant}/runs/{run}/fail") { try await end($0, $1, as: .failed) }
        group.post("/tenants/{tenant}/runs/{run}/cancel") { try await end($0, $1, as: .cancelled) }
        group.post("/tenants/{tenant}/runs/{run}/annotations", use: annotate)
        group.post("/tenants/{tenant}/runs/{run}/rollback", use: rollback)
        group.get("/tenants/{tenant}/runs/{run}/compensations", use: compensationList)
        group.post("/tenants/{tenant}/runs/{run}/replay", use: replay)
    }

    /// `{reason}` (admins, operators): compensates the run's completed tool calls, newest first, by
    /// calling each one's compensating tool; every outcome joins the ledger; audited.
    @Sendable func rollback(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let fields = try JSONFields(try await JSONBody.document(from: request, context: context) ?? .object([:]))
        let reason = try fields.optionalString("reason") ?? ""
        let (tenant, principal) = try await scope.tenant(context, .operateKillSwitch)
        let outcomes = try await compensations.rollback(by: principal, tenant: tenant, runID: try Self.runID(context), reason: reason)
        context.logger.notice(
            "run.rolled_back", metadata: ["tenant": "\(tenant.slug)", "run": "\(context.parameters.get("run") ?? "")", "calls": "\(outcomes.count)"])
        return JSONBody.response(status: .ok, Render.compensations(outcomes))
    }

    @Sendable func compensationList(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let (tenant, _) = try await scope.tenant(context, .readDecisions)
        let runID = try Self.runID(context)
        _ = try await runs.find(tenant: tenant, id: runID)
        return JSONBody.response(status: .ok, Render.compensations(try await compensations.list(tenant: tenant, runID: runID)))
    }

    /// `{mode?: "sandbox"|"live", until_step?, approval_id?}` (admins, operators): a new run replaying
    /// this one, and the report of where it diverged. Live needs an approved approval request for
    /// the run. Audited.
    @Sendable func replay(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let fields = try JSONFields(try await JSONBody.document(from: request, context: context) ?? .object([:]))
        let mode = try fields.optionalString("mode").map { try ToolController.parse($0, as: ReplayMode.self, field: "mode") } ?? .sandbox
        let untilStep = try fields.optionalInt("until_step")
        let approvalID = try fields.optionalString("approval_id").map { try WardenRequestContext.id($0, .approvalNotFound, "approval request") }
        let (tenant, principal) = try await scope.tenant(context, .operateKillSwitch)
        let (run, replay) = try await replays.replay(
            by: principal, tenant: tenant, runID: try Self.runID(context), mode: mode, untilStep: untilStep, approvalID: approvalID)
        guard case .object(var body) = Render.replay(replay) else { return JSONBody.response(status: .created, Render.replay(replay)) }
        body["run"] = Render.run(run, tenantSlug: tenant.slug)
        return JSONBody.response(status: .created, JSONValue.object(body))
    }

    /// `{text}` (a note; keys that read decisions) or `{kind: "exception", decision_id, justification}`
    /// (a governed exception: the override of one of the run's denied decisions; operators, admins).
    /// Both join the ledger; an exception is audited and records the policy version it overrode.
    @Sendable func annotate(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let fields = try JSONFields(try await JSONBody.document(from: request, context: context))
        let kind = try fields.optionalString("kind").map { try ToolController.parse($0, as: RunAnnotation.Kind.self, field: "kind") } ?? .note
        let text = kind == .exception ? try fields.string("justification") : try fields.string("text")
        let decisionID = try fields.optionalString("decision_id").map { try WardenRequestContext.id($0, .decisionNotFound, "decision") }
        let (tenant, principal) = try await scope.tenant(context, .readDecisions)
        let annotation = try await runs.annotate(
            by: principal, tenant: tenant, runID: try Self.runID(context), kind: kind, text: text, decisionID: decisionID)
        return JSONBody.response(status: .created, Render.annotation(annotation))
    }

    /// `{agent?, goal, plan?, model?}`: `agent` is required with an API key; an agent token opens runs
    /// for its own agent only.
    @Sendable func create(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let fields = try JSONFields(try await JSONBody.document(from: request, context: context))
        let (tenant, actor) = try await scope.tenantForAgentOrKey(context, .decide)
        let named = try fields.optionalString("agent")
        let agentID: String
        if let agent = context.agent {
            if let named, named != agent.agentID { throw WardenError(.forbidden, "an agent token opens runs for its own agent only") }
            agentID = agent.agentID
        } else {
            guard let named else { throw WardenError(.missingField, "an API key must name the run's 'agent'") }
            agentID = named
        }
        let run = try await runs.create(
            tenant: tenant, agentID: agentID, goal: try fields.string("goal"), plan: fields.optionalValue("plan"),
            model: try fields.optionalString("model"), by: actor)
        return JSONBody.response(status: .created, Render.run(run, tenantSlug: tenant.slug))
    }

    /// `?agent=&status=&since=&until=`, newest first. Agent tokens list their own agent's runs.
    @Sendable func list(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let page = try PageRequest(limit: request.query("limit"), cursor: request.query("cursor"))
        let (tenant, _) = try await scope.tenantForAgentOrKey(context, .readDecisions)
        var query = RunQuery(
            tenantID: tenant.id, agentID: request.query("agent"), status: try request.queryEnum("status", as: RunStatus.self),
            since: try request.queryTime("since"), until: try request.queryTime("until"))
        if let agent = context.agent { query.agentID = agent.agentID }
        let result = try await runs.list(query, page: page)
        return JSONBody.response(status: .ok, Render.list(result.items.map { Render.run($0, tenantSlug: tenant.slug) }, next: result.nextCursor))
    }

    /// The whole run: the run, its steps in order, and the decisions and approval requests made with
    /// its id. `?format=jsonl` gives one JSON object per line (the run, then every entry in time
    /// order), for incident notes.
    @Sendable func show(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let format = request.query("format") ?? "json"
        guard format == "json" || format == "jsonl" else { throw WardenError(.invalidField, "format must be json or jsonl") }
        let (tenant, _) = try await scope.tenantForAgentOrKey(context, .readDecisions)
        let timeline = try await runs.timeline(tenant: tenant, id: try Self.runID(context))
        let (run, steps, decisions, approvals, annotations) = (
            timeline.run, timeline.steps, timeline.decisions, timeline.approvals, timeline.annotations
        )
        try Self.checkOwner(run, context)
        let slug = tenant.slug
        if format == "jsonl" {
            var entries: [(Date, Int, JSONValue)] = []
            for step in steps { entries.append((step.startedAt, 0, Render.tagged("step", Render.step(step)))) }
            for decision in decisions {
                entries.append((decision.createdAt, 1, Render.tagged("decision", Render.decision(decision, tenantSlug: slug))))
            }
            for approval in approvals {
                entries.append((approval.createdAt, 2, Render.tagged("approval", Render.approval(approval, tenantSlug: slug))))
            }
            for annotation in annotations {
                entries.append((annotation.createdAt, 3, Render.tagged("annotation", Render.annotation(annotation))))
            }
            for compensation in timeline.compensations {
                entries.append((compensation.createdAt, 4, Render.tagged("compensation", Render.compensation(compensation))))
            }
            // Stable: steps keep their order among equal times.
            let ordered = entries.enumerated().sorted { ($0.element.0, $0.element.1, $0.offset) < ($1.element.0, $1.element.1, $1.offset) }
            var bytes = Render.tagged("run", Render.run(run, tenantSlug: slug)).canonicalBytes
            bytes.append(UInt8(ascii: "\n"))
            for entry in ordered {
                bytes += entry.element.2.canonicalBytes
                bytes.append(UInt8(ascii: "\n"))
            }
            var headers = HTTPFields()
            headers[.contentType] = "application/x-ndjson; charset=utf-8"
            headers[.contentDisposition] = "attachment; filename=\"run-\(run.id.uuidString.lowercased()).jsonl\""
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        guard case .object(var body) = Render.run(run, tenantSlug: slug) else {
            return JSONBody.response(status: .ok, Render.run(run, tenantSlug: slug))
        }
        body["steps"] = .array(steps.map(Render.step))
        body["decisions"] = .array(decisions.map { Render.decision($0, tenantSlug: slug) })
        body["approvals"] = .array(approvals.map { Render.approval($0, tenantSlug: slug) })
        body["annotations"] = .array(annotations.map(Render.annotation))
        body["compensations"] = .array(timeline.compensations.map(Render.compensation))
        body["replay"] = timeline.replay.map(Render.replay) ?? .null
        body["replays"] = .array(timeline.replays.map { .string($0.runID.uuidString.lowercased()) })
        return JSONBody.response(status: .ok, JSONValue.object(body))
    }

    /// `{kind, started_at?, ended_at?, labels?, …the kind's fields}`.
    @Sendable func append(_ request: Request, context: WardenRequestContext) async throws -> Response {
        guard case .object(var fields)? = try await JSONBody.document(from: request, context: context) else {
            throw WardenError(.invalidField, "a step is a JSON object")
        }
        let (tenant, actor) = try await scope.tenantForAgentOrKey(context, .decide)
        let runID = try Self.runID(context)
        try Self.checkOwner(try await runs.find(tenant: tenant, id: runID), context)
        guard case .string(let kindName)? = fields.removeValue(forKey: "kind") else {
            throw WardenError(.missingField, "a step needs a 'kind' (\(StepKind.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        let kind = try ToolController.parse(kindName, as: StepKind.self, field: "kind")
        let started = try Self.time(fields.removeValue(forKey: "started_at"), field: "started_at")
        let ended = try Self.time(fields.removeValue(forKey: "ended_at"), field: "ended_at")
        let labels = try Redaction.labels(fields.removeValue(forKey: "labels"), roots: StepKind.labelRoots)
        let step = try await runs.append(
            tenant: tenant, runID: runID, RunService.StepDraft(kind: kind, startedAt: started, endedAt: ended, data: fields, labels: labels),
            by: actor)
        return JSONBody.response(status: .created, Render.step(step))
    }

    /// `{reason?}` (required to fail or cancel). Cancelling with an API key needs the kill-switch right
    /// (operators, admins) and is audited.
    func end(_ request: Request, _ context: WardenRequestContext, as status: RunStatus) async throws -> Response {
        let document = try await JSONBody.document(from: request, context: context) ?? .object([:])
        let reason = try JSONFields(document).optionalString("reason")
        let (tenant, actor) = try await scope.tenantForAgentOrKey(context, status == .cancelled ? .operateKillSwitch : .decide)
        let runID = try Self.runID(context)
        try Self.checkOwner(try await runs.find(tenant: tenant, id: runID), context)
        let run = try await runs.end(tenant: tenant, runID: runID, as: status, reason: reason, by: actor)
        return JSONBody.response(status: .ok, Render.run(run, tenantSlug: tenant.slug))
    }

    static func runID(_ context: WardenRequestContext) throws -> UUID {
        try context.id("run", .runNotFound, "run")
    }

    /// An agent token sees and writes its own agent's runs only; others read as not found.
    static func checkOwner(_ run: Run, _ context: WardenRequestContext) throws {
        if let agent = context.agent, agent.agentID != run.agentID {
            throw WardenError(.runNotFound, "run '\(run.id.uuidString.lowercased())' not found")
        }
    }

    static func time(_ value: JSONValue?, field: String) throws -> Date? {
        switch value {
        case nil, .null?: return nil
        case .string(let text)?: return Timestamp.truncated(try Request.time(text, field: field))
        default: throw WardenError(.invalidField, "\(field) must be an RFC 3339 time")
        }
    }
}

extension Render {
    static func run(_ run: Run, tenantSlug: String) -> JSONValue {
        .object([
            "id": id(run.id), "tenant": .string(tenantSlug), "agent": .string(run.agentID), "goal": .string(run.goal), "plan": run.plan ?? .null,
            "model": text(run.model), "status": .string(run.status.rawValue), "created_by": .string(run.createdBy),
            "created_at": time(run.createdAt), "ended_at": time(run.endedAt), "end_reason": text(run.endReason), "ended_by": text(run.endedBy),
            "steps": .int(Int64(run.stepCount)),
        ])
    }

    static func step(_ step: RunStep) -> JSONValue {
        var fields = step.data
        fields["id"] = id(step.id)
        fields["run_id"] = id(step.runID)
        fields["sequence"] = .int(Int64(step.sequence))
        fields["kind"] = .string(step.kind.rawValue)
        fields["started_at"] = time(step.startedAt)
        fields["ended_at"] = time(step.endedAt)
        fields["labels"] = .object(step.labels.mapValues { .string($0.rawValue) })
        fields["created_by"] = .string(step.createdBy)
        return .object(fields)
    }

    static func annotation(_ annotation: RunAnnotation) -> JSONValue {
        .object([
            "id": id(annotation.id), "run_id": id(annotation.runID), "kind": .string(annotation.kind.rawValue), "text": .string(annotation.text),
            "decision_id": annotation.decisionID.map(id) ?? .null, "policy_version": text(annotation.policyVersion),
            "created_by": .string(annotation.createdBy), "created_at": time(annotation.createdAt),
        ])
    }

    static func compensation(_ outcome: RunCompensation) -> JSONValue {
        .object([
            "id": id(outcome.id), "run_id": id(outcome.runID), "step_id": id(outcome.stepID), "step_sequence": .int(Int64(outcome.stepSequence)),
            "tool": .string(outcome.tool), "compensation_tool": text(outcome.compensationTool), "status": .string(outcome.status.rawValue),
            "http_status": outcome.httpStatus.map { .int(Int64($0)) } ?? .null, "detail": text(outcome.detail), "reason": .string(outcome.reason),
            "requested_by": .string(outcome.requestedBy), "created_at": time(outcome.createdAt),
        ])
    }

    static func compensations(_ outcomes: [RunCompensation]) -> JSONValue {
        var counts: [String: JSONValue] = [:]
        for status in RunCompensation.Status.allCases {
            counts[status.rawValue] = .int(Int64(outcomes.filter { $0.status == status }.count))
        }
        return .object(["items": .array(outcomes.map(compensation)), "counts": .object(counts)])
    }

    static func replay(_ replay: RunReplay) -> JSONValue {
        .object([
            "replay_run_id": id(replay.runID), "original_run_id": id(replay.originalRunID), "mode": .string(replay.mode.rawValue),
            "until_step": replay.untilStep.map { .int(Int64($0)) } ?? .null, "approval_id": replay.approvalID.map(id) ?? .null,
            "report": replay.report, "created_by": .string(replay.createdBy), "created_at": time(replay.createdAt),
        ])
    }

    /// `{"type": type, …object}`, for JSON lines.
    static func tagged(_ type: String, _ value: JSONValue) -> JSONValue {
        guard case .object(var fields) = value else { return value }
        fields["type"] = .string(type)
        return .object(fields)
    }
}
