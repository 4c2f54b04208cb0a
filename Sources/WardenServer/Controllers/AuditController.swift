import Hummingbird
import WardenCore

/// `/v1/audit-events` (global admins) and `/v1/tenants/{tenant}/audit-events`.
struct AuditController {
    let identity: IdentityService
    let store: any Store

    func addRoutes(to group: RouterGroup<WardenRequestContext>) {
        group.get("/audit-events", use: listAll)
        group.get("/tenants/{tenant}/audit-events", use: listTenant)
    }

    @Sendable func listAll(_ request: Request, context: WardenRequestContext) async throws -> Response {
        try await list(request, context: context, tenantSlug: request.query("tenant"), globalView: true)
    }

    @Sendable func listTenant(_ request: Request, context: WardenRequestContext) async throws -> Response {
        try await list(request, context: context, tenantSlug: try context.parameters.require("tenant"), globalView: false)
    }

    private func list(_ request: Request, context: WardenRequestContext, tenantSlug: String?, globalView: Bool) async throws -> Response {
        let principal = try context.caller()
        if globalView && !principal.isGlobalAdmin {
            throw WardenError(.forbidden, "only a global admin may read /v1/audit-events; use /v1/tenants/{tenant}/audit-events")
        }
        let page = try PageRequest(limit: request.query("limit"), cursor: request.query("cursor"))
        let result = try await identity.auditEvents(by: principal, tenantSlug: tenantSlug, action: request.query("action"), page: page)
        let slugs = try await TenantSlugs.resolve(result.items.compactMap(\.tenantID), store: store)
        let items = result.items.map { AuditEventResponse($0, tenantSlug: $0.tenantID.flatMap { slugs[$0] }) }
        return JSONBody.response(status: .ok, ListResponse(items: items, nextCursor: result.nextCursor))
    }
}
