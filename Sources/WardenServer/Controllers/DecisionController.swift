import Foundation
import HTTPTypes
import Hummingbird
import Logging
import WardenCore

/// `POST /v1/decide` and the decision log.
struct DecisionController {
    let scope: TenantScope
    let decisions: DecisionService
    let snapshots: SnapshotStore
    let store: any Store
    let approvals: ApprovalService

    /// The body of `POST /v1/decide`, read with the hand-written JSON parser (this is the hot path).
    struct DecideRequest {
        var tool: String
        var action: String
        var input: JSONValue?
        var runID: String?
        var cost: Double?
        var tenant: String?
        var agent: String?
        var labels: [String: DataLabel]

        init(_ document: JSONValue?) throws {
            let fields = try JSONFields(document)
            tool = try fields.string("tool")
            action = try fields.string("action")
            input = fields.optionalValue("input")
            runID = try fields.optionalString("run_id")
            cost = try fields.optionalNumber("cost")
            tenant = try fields.optionalString("tenant")
            agent = try fields.optionalString("agent")
            labels = try Redaction.labels(fields.optionalValue("labels"))
        }
    }

    func addRoutes(to group: RouterGroup<WardenRequestContext>) {
        group.post("/decide", use: decide)
        group.get("/tenants/{tenant}/decisions", use: list)
        group.get("/tenants/{tenant}/decisions/{id}", use: show)
    }

    @Sendable func decide(_ request: Request, context: WardenRequestContext) async throws -> Response {
        // `?enforce=true`: a deny answers 403 (same body), for callers that act on the status alone.
        let enforce: Bool
        switch request.query("enforce") {
        case nil, "false": enforce = false
        case "true": enforce = true
        case let other?: throw WardenError(.invalidField, "enforce must be true or false (got '\(other)')")
        }
        let body = try DecideRequest(try await JSONBody.document(from: request, context: context))
        let tenantID: UUID
        let agentID: String
        let requester: String
        if let agent = context.agent {
            requester = "agent:\(agent.agentID)"
            if let agentName = body.agent, agentName != agent.agentID {
                throw WardenError(.forbidden, "an agent token decides for its own agent only")
            }
            let snapshot = try await snapshots.snapshot(tenantID: agent.tenantID)
            if let slug = body.tenant, slug != snapshot.tenant.slug {
                throw WardenError(.forbidden, "an agent token decides for its own tenant only")
            }
            tenantID = agent.tenantID
            agentID = agent.agentID
        } else {
            let principal = try context.caller()
            requester = principal.actor
            guard let slug = body.tenant, let agentName = body.agent else {
                throw WardenError(.missingField, "an API key must name 'tenant' and 'agent'; agents use their own token")
            }
            guard let snapshot = try await snapshots.snapshot(slug: slug), principal.canSee(tenantID: snapshot.tenant.id) else {
                throw WardenError(.tenantNotFound, "tenant '\(slug)' not found")
            }
            try principal.require(.decide)
            tenantID = snapshot.tenant.id
            agentID = agentName
        }
        let decisionRequest = DecisionRequest(
            tool: body.tool, action: body.action, input: body.input ?? .object([:]), runID: body.runID, cost: body.cost, labels: body.labels)
        let record = try await decisions.decide(
            tenantID: tenantID, agentID: agentID, decisionRequest, traceID: context.traceID
        )
        if context.logger.logLevel <= .debug {
            context.logger.debug(
                "policy.decision",
                metadata: [
                    "decision_id": "\(record.id.uuidString.lowercased())", "agent": "\(agentID)", "tool": "\(record.tool)",
                    "effect": "\(record.effect.rawValue)", "reasons": "\(record.reasons.joined(separator: ","))",
                ]
            )
        }
        // A decision that needs a person opens an approval request; the agent can wait on it
        // (`GET …/approvals/{id}?wait=30`). Its level is the strictest of the tool's, the policy's
        // `approval_level` obligation and the tenant's forced manual approval.
        var approvalID: UUID?
        if record.effect == .requireApproval, let snapshot = snapshots.cached(tenantID: tenantID) {
            let reason = record.reasons.joined(separator: ", ")
            let (approval, _) = try await approvals.create(
                tenant: snapshot.tenant,
                ApprovalService.Draft(
                    agentID: agentID, tool: record.tool, action: record.action, input: decisionRequest.input, labels: body.labels,
                    reason: reason, level: record.approvalLevel ?? .manualApprove, decisionID: record.id, requestedBy: requester,
                    runID: record.runID))
            approvalID = approval.id
        }
        if let wait = record.retryAfter {
            // A rate limit: 429, whatever `enforce` says, with when to try again (whole seconds, at least 1).
            var response = JSONBody.response(status: .tooManyRequests, Render.decisionAnswer(record, approvalID: nil))
            response.headers[.retryAfter] = String(max(1, Int(wait.rounded(.up))))
            return response
        }
        return JSONBody.response(
            status: enforce && record.effect == .deny ? .forbidden : .ok, Render.decisionAnswer(record, approvalID: approvalID))
    }

    @Sendable func list(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let page = try PageRequest(limit: request.query("limit"), cursor: request.query("cursor"))
        let query = DecisionQuery(
            tenantID: UUID(), effect: try request.queryEnum("effect", as: Effect.self), tool: request.query("tool"),
            agentID: request.query("agent"), bundle: request.query("bundle"), since: try request.queryTime("since"),
            until: try request.queryTime("until")
        )
        let (tenant, _) = try await scope.tenant(context, .readDecisions)
        var scoped = query
        scoped.tenantID = tenant.id
        let result = try await store.read { [scoped] in try await $0.decisions.list(scoped, page) }
        return JSONBody.response(
            status: .ok, Render.list(result.items.map { Render.decision($0, tenantSlug: tenant.slug) }, next: result.nextCursor)
        )
    }

    @Sendable func show(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let (tenant, _) = try await scope.tenant(context, .readDecisions)
        let text = try context.parameters.require("id")
        guard let id = UUID(uuidString: text) else { throw WardenError(.decisionNotFound, "decision '\(text)' not found") }
        let tenantID = tenant.id
        guard let record = try await store.read({ try await $0.decisions.find(tenantID: tenantID, id: id) }) else {
            throw WardenError(.decisionNotFound, "decision '\(text)' not found")
        }
        return JSONBody.response(status: .ok, Render.decision(record, tenantSlug: tenant.slug))
    }

    /// The trace id of a W3C `traceparent` header (`00-<32 hex>-<16 hex>-<2 hex>`), if well formed.
    static func traceID(_ header: String?) -> String? {
        guard let header else { return nil }
        let parts = header.split(separator: "-")
        guard parts.count == 4, parts[1].count == 32, parts[1].allSatisfy(\.isHexDigit), parts[1] != String(repeating: "0", count: 32) else {
            return nil
        }
        return String(parts[1]).lowercased()
    }
}
