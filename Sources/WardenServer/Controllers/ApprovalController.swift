import Foundation
import HTTPTypes
import Hummingbird
import WardenCore

/// `/v1/tenants/{tenant}/approvals`: people decide `require_approval` decisions.
struct ApprovalController {
    let scope: TenantScope
    let approvals: ApprovalService
    let snapshots: SnapshotStore

    func addRoutes(to group: RouterGroup<WardenRequestContext>) {
        group.post("/tenants/{tenant}/approvals", use: create)
        group.get("/tenants/{tenant}/approvals", use: list)
        group.get("/tenants/{tenant}/approvals/{id}", use: show)
        group.post("/tenants/{tenant}/approvals/{id}/approve", use: approve)
        group.post("/tenants/{tenant}/approvals/{id}/reject", use: reject)
        group.post("/tenants/{tenant}/approvals/reject-pending", use: rejectPending)
        group.post("/tenants/{tenant}/approvals/escalate-now", use: escalateNow)
    }

    /// `{agent, tool, action, input?, labels?, reason?, level?, webhook_url?, expires_in_seconds?}` with an optional
    /// `Idempotency-Key` header: a retry with the same key answers the first request (200, not 201).
    @Sendable func create(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let fields = try JSONFields(try await JSONBody.document(from: request, context: context))
        let (tenant, principal) = try await scope.tenant(context, .decide)
        let agentID = try fields.string("agent")
        let toolName = try fields.string("tool")
        let snapshot = try await snapshots.snapshot(tenantID: tenant.id)
        guard snapshot.agents[agentID] != nil else { throw WardenError(.agentNotFound, "agent '\(agentID)' not found in tenant '\(tenant.slug)'") }
        guard let tool = snapshot.tools[toolName]?.tool else { throw WardenError(.toolNotFound, "tool '\(toolName)' not found") }
        let level = try fields.optionalString("level").map { try ToolController.parse($0, as: ApprovalLevel.self, field: "level") }
        let draft = ApprovalService.Draft(
            agentID: agentID, tool: toolName, action: try fields.string("action"), input: fields.optionalValue("input") ?? .object([:]),
            labels: try Redaction.labels(fields.optionalValue("labels")), reason: try fields.optionalString("reason"),
            level: level ?? tool.approvalLevel, webhookURL: try fields.optionalString("webhook_url"),
            lifetime: try fields.optionalNumber("expires_in_seconds"), requestedBy: principal.actor,
            idempotencyKey: request.headers[HTTPField.Name("Idempotency-Key")!], runID: try fields.optionalString("run_id"))
        let (approval, created) = try await approvals.create(tenant: tenant, draft)
        return JSONBody.response(status: created ? .created : .ok, Render.approval(approval, tenantSlug: tenant.slug))
    }

    @Sendable func list(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let page = try PageRequest(limit: request.query("limit"), cursor: request.query("cursor"))
        let status = try request.queryEnum("status", as: ApprovalStatus.self)
        let (tenant, _) = try await scope.tenant(context, .readApprovals)
        let result = try await approvals.list(tenant: tenant, status: status, page: page)
        return JSONBody.response(
            status: .ok, Render.list(result.items.map { Render.approval($0, tenantSlug: tenant.slug) }, next: result.nextCursor))
    }

    /// `?wait=SECONDS` (up to 60) blocks until the request is resolved, so an agent can wait on it.
    /// Agents see their own requests only.
    @Sendable func show(_ request: Request, context: WardenRequestContext) async throws -> Response {
        var wait = Duration.zero
        if let text = request.query("wait") {
            guard let seconds = Double(text), seconds >= 0, seconds <= 60 else {
                throw WardenError(.invalidField, "wait must be a number of seconds from 0 to 60")
            }
            wait = .milliseconds(Int64(seconds * 1000))
        }
        let (tenant, actor) = try await scope.tenantForAgentOrKey(context, .readApprovals)
        let id = try Self.id(context)
        let found = try await approvals.get(tenant: tenant, id: id, wait: .zero)
        if actor.hasPrefix("agent:"), "agent:\(found.agentID)" != actor {
            throw WardenError(.approvalNotFound, "approval '\(id.uuidString.lowercased())' not found")
        }
        let approval = wait == .zero ? found : try await approvals.get(tenant: tenant, id: id, wait: wait)
        return JSONBody.response(status: .ok, Render.approval(approval, tenantSlug: tenant.slug))
    }

    @Sendable func approve(_ request: Request, context: WardenRequestContext) async throws -> Response {
        try await vote(.approve, request, context)
    }

    @Sendable func reject(_ request: Request, context: WardenRequestContext) async throws -> Response {
        try await vote(.reject, request, context)
    }

    func vote(_ vote: ApprovalRules.Vote, _ request: Request, _ context: WardenRequestContext) async throws -> Response {
        let document = try await JSONBody.document(from: request, context: context) ?? .object([:])
        let comment = try JSONFields(document).optionalString("comment")
        let (tenant, principal) = try await scope.tenant(context, .decideApprovals)
        let approval = try await approvals.vote(by: principal, tenant: tenant, id: try Self.id(context), vote, comment: comment)
        return JSONBody.response(status: .ok, Render.approval(approval, tenantSlug: tenant.slug))
    }

    /// `{reason}`: every pending request rejected at once (admin).
    @Sendable func rejectPending(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let fields = try JSONFields(try await JSONBody.document(from: request, context: context))
        let reason = try fields.string("reason")
        let (tenant, principal) = try await scope.tenant(context, .readApprovals)
        let count = try await approvals.rejectPending(by: principal, tenant: tenant, reason: reason)
        return JSONBody.response(status: .ok, JSONValue.object(["rejected": .int(Int64(count)), "reason": .string(reason)]))
    }

    /// One escalation pass for the tenant now (admin): escalates and expires what is due.
    @Sendable func escalateNow(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let (tenant, principal) = try await scope.tenant(context, .readApprovals)
        guard principal.role == .admin else { throw WardenError(.forbidden, "only an admin may run an escalation pass") }
        let (escalated, expired) = try await approvals.escalate(tenantID: tenant.id)
        return JSONBody.response(status: .ok, JSONValue.object(["escalated": .int(Int64(escalated)), "expired": .int(Int64(expired))]))
    }

    static func id(_ context: WardenRequestContext) throws -> UUID {
        try context.id("id", .approvalNotFound, "approval")
    }
}

extension Render {
    static func approval(_ approval: ApprovalRequest, tenantSlug: String) -> JSONValue {
        .object([
            "id": id(approval.id), "tenant": .string(tenantSlug), "agent": .string(approval.agentID), "tool": .string(approval.tool),
            "action": .string(approval.action), "input": approval.input,
            "labels": .object(approval.labels.mapValues { .string($0.rawValue) }), "reason": text(approval.reason),
            "level": .string(approval.level.rawValue), "escalation_step": .int(Int64(approval.escalationStep)), "run_id": text(approval.runID),
            "webhook_url_set": .bool(approval.webhookURL != nil), "expires_at": time(approval.expiresAt), "status": .string(approval.status.rawValue),
            "status_history": .array(
                approval.history.map { change in
                    .object([
                        "status": .string(change.status.rawValue), "actor": .string(change.actor), "at": time(change.at),
                        "comment": text(change.comment),
                    ])
                }),
            "approvals": strings(approval.approvals), "approvals_needed": .int(Int64(approval.approvalsNeeded)),
            "webhook_attempts": .int(Int64(approval.webhookAttempts)),
            "last_webhook_status": approval.lastWebhookStatus.map { .int(Int64($0)) } ?? .null, "resolved_at": time(approval.resolvedAt),
            "decision_id": approval.decisionID.map(id) ?? .null, "requested_by": .string(approval.requestedBy),
            "created_at": time(approval.createdAt),
        ])
    }
}
