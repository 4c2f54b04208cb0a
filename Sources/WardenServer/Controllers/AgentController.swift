import Foundation
import Hummingbird
import Logging
import WardenCore

/// `/v1/tenants/{tenant}/agents` and agent tokens.
struct AgentController {
    let scope: TenantScope
    let agents: AgentService

    struct CreateRequest: Decodable {
        var agentID: String
        var roles: [String]?
        var reason: String?

        enum CodingKeys: String, CodingKey {
            case agentID = "agent_id"
            case roles, reason
        }
    }

    struct TokenRequest: Decodable {
        var ttlSeconds: Int? = nil
        var reason: String? = nil

        enum CodingKeys: String, CodingKey {
            case ttlSeconds = "ttl_seconds"
            case reason
        }
    }

    func addRoutes(to group: RouterGroup<WardenRequestContext>) {
        group.post("/tenants/{tenant}/agents", use: create)
        group.get("/tenants/{tenant}/agents", use: list)
        group.get("/tenants/{tenant}/agents/{agent}", use: show)
        group.post("/tenants/{tenant}/agents/{agent}/tokens", use: issueToken)
        group.delete("/tenants/{tenant}/tokens/{id}", use: revokeToken)
    }

    @Sendable func create(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let body = try await JSONBody.decode(CreateRequest.self, from: request, context: context)
        let (tenant, principal) = try await scope.tenant(context, .manageAgents)
        let agent = try await agents.create(by: principal, tenant: tenant, agentID: body.agentID, roles: body.roles ?? [], reason: body.reason)
        context.logger.info("agent.created", metadata: ["tenant": "\(tenant.slug)", "agent": "\(agent.agentID)"])
        return JSONBody.response(status: .created, Render.agent(agent, tenantSlug: tenant.slug))
    }

    @Sendable func list(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let page = try PageRequest(limit: request.query("limit"), cursor: request.query("cursor"))
        let (tenant, principal) = try await scope.tenant(context, .readTools)
        let result = try await agents.list(by: principal, tenant: tenant, page: page)
        return JSONBody.response(status: .ok, Render.list(result.items.map { Render.agent($0, tenantSlug: tenant.slug) }, next: result.nextCursor))
    }

    @Sendable func show(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let (tenant, principal) = try await scope.tenant(context, .readTools)
        let agent = try await agents.get(by: principal, tenant: tenant, agentID: try context.parameters.require("agent"))
        return JSONBody.response(status: .ok, Render.agent(agent, tenantSlug: tenant.slug))
    }

    @Sendable func issueToken(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let body = try await JSONBody.decodeOptional(TokenRequest.self, from: request, context: context) ?? TokenRequest()
        let (tenant, principal) = try await scope.tenant(context, .manageAgents)
        let issued = try await agents.issueToken(
            by: principal, tenant: tenant, agentID: try context.parameters.require("agent"), lifetime: body.ttlSeconds.map(TimeInterval.init),
            reason: body.reason
        )
        context.logger.info(
            "agent_token.issued", metadata: ["tenant": "\(tenant.slug)", "token_id": "\(issued.record.id.uuidString.lowercased())"]
        )
        return JSONBody.response(status: .created, Render.token(issued.record, secret: issued.token, tenantSlug: tenant.slug))
    }

    @Sendable func revokeToken(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let (tenant, principal) = try await scope.tenant(context, .manageAgents)
        let id = try context.id("id", .tokenNotFound, "token")
        let token = try await agents.revokeToken(by: principal, tenant: tenant, tokenID: id, reason: request.query("reason"))
        context.logger.notice("agent_token.revoked", metadata: ["tenant": "\(tenant.slug)", "token_id": "\(id.uuidString.lowercased())"])
        return JSONBody.response(status: .ok, Render.token(token, secret: nil, tenantSlug: tenant.slug))
    }
}
