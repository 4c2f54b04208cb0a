import Hummingbird
import Logging
import WardenCore

/// `/v1/tenants`
struct TenantController {
    let identity: IdentityService

    struct CreateRequest: Decodable {
        var slug: String
        var name: String?
        var reason: String?
    }

    func addRoutes(to group: RouterGroup<WardenRequestContext>) {
        group.post("/tenants", use: create)
        group.get("/tenants", use: list)
        group.get("/tenants/{tenant}", use: show)
    }

    @Sendable func create(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let body = try await JSONBody.decode(CreateRequest.self, from: request, context: context)
        let tenant = try await identity.createTenant(by: try context.caller(), slug: body.slug, name: body.name, reason: body.reason)
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
}
