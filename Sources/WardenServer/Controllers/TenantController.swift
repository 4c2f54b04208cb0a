import Hummingbird
import Logging
import WardenCore

/// `/v1/tenants`
struct TenantController {
    let identity: IdentityService
    let snapshots: SnapshotStore

    struct CreateRequest: Decodable {
        var slug: String
        var name: String?
        var defaultEffect: String?
        var reason: String?

        enum CodingKeys: String, CodingKey {
            case slug, name, reason
            case defaultEffect = "default_effect"
        }
    }

    struct UpdateRequest: Decodable {
        var defaultEffect: String
        var reason: String?

        enum CodingKeys: String, CodingKey {
            case reason
            case defaultEffect = "default_effect"
        }
    }

    func addRoutes(to group: RouterGroup<WardenRequestContext>) {
        group.post("/tenants", use: create)
        group.get("/tenants", use: list)
        group.get("/tenants/{tenant}", use: show)
        group.patch("/tenants/{tenant}", use: update)
    }

    @Sendable func create(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let body = try await JSONBody.decode(CreateRequest.self, from: request, context: context)
        let effect = try body.defaultEffect.map { try ToolController.parse($0, as: DefaultEffect.self, field: "default_effect") } ?? .deny
        let tenant = try await identity.createTenant(
            by: try context.caller(), slug: body.slug, name: body.name, defaultEffect: effect, reason: body.reason
        )
        context.logger.info("tenant.created", metadata: ["tenant": "\(tenant.slug)"])
        return JSONBody.response(status: .created, TenantResponse(tenant))
    }

    @Sendable func list(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let page = try PageRequest(limit: request.query("limit"), cursor: request.query("cursor"))
        let result = try await identity.listTenants(by: try context.caller(), page: page)
        return JSONBody.response(status: .ok, ListResponse(items: result.items.map(TenantResponse.init), nextCursor: result.nextCursor))
    }

    @Sendable func show(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let slug = try context.parameters.require("tenant")
        let principal = try context.caller()
        let tenant = try await identity.tenant(slug: slug, for: principal)
        try principal.require(.readTenant)
        return JSONBody.response(status: .ok, TenantResponse(tenant))
    }

    @Sendable func update(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let body = try await JSONBody.decode(UpdateRequest.self, from: request, context: context)
        let effect = try ToolController.parse(body.defaultEffect, as: DefaultEffect.self, field: "default_effect")
        let tenant = try await identity.updateTenant(
            by: try context.caller(), slug: try context.parameters.require("tenant"), defaultEffect: effect, reason: body.reason
        )
        snapshots.apply(tenant)
        context.logger.notice("tenant.updated", metadata: ["tenant": "\(tenant.slug)", "default_effect": "\(effect.rawValue)"])
        return JSONBody.response(status: .ok, TenantResponse(tenant))
    }
}
