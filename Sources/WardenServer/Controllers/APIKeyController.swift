import Foundation
import Hummingbird
import Logging
import WardenCore

/// `/v1/api-keys`
struct APIKeyController {
    let identity: IdentityService
    let store: any Store

    struct CreateRequest: Decodable {
        var name: String
        var role: String
        var tenant: String?
        var reason: String?
    }

    func addRoutes(to group: RouterGroup<WardenRequestContext>) {
        group.post("/api-keys", use: create)
        group.get("/api-keys", use: list)
        group.delete("/api-keys/{id}", use: revoke)
    }

    @Sendable func create(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let body = try await JSONBody.decode(CreateRequest.self, from: request, context: context)
        guard let role = Role(rawValue: body.role) else {
            let roles = Role.allCases.map(\.rawValue).joined(separator: ", ")
            throw WardenError(.invalidField, "role must be one of \(roles)")
        }
        let created = try await identity.createAPIKey(
            by: try context.caller(), name: body.name, role: role, tenantSlug: body.tenant, reason: body.reason
        )
        context.logger.info(
            "api_key.created",
            metadata: ["api_key.id": "\(created.key.id.uuidString.lowercased())", "api_key.role": "\(role.rawValue)"]
        )
        return JSONBody.response(status: .created, APIKeyResponse(created.key, tenantSlug: created.tenantSlug, secret: created.secret))
    }

    @Sendable func list(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let page = try PageRequest(limit: request.query("limit"), cursor: request.query("cursor"))
        let result = try await identity.listAPIKeys(by: try context.caller(), tenantSlug: request.query("tenant"), page: page)
        let slugs = try await TenantSlugs.resolve(result.items.compactMap(\.tenantID), store: store)
        let items = result.items.map { APIKeyResponse($0, tenantSlug: $0.tenantID.flatMap { slugs[$0] }) }
        return JSONBody.response(status: .ok, ListResponse(items: items, nextCursor: result.nextCursor))
    }

    @Sendable func revoke(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let id = try context.id("id", .apiKeyNotFound, "API key")
        let key = try await identity.revokeAPIKey(by: try context.caller(), id: id, reason: request.query("reason"))
        context.logger.info("api_key.revoked", metadata: ["api_key.id": "\(id.uuidString.lowercased())"])
        let slugs = try await TenantSlugs.resolve(key.tenantID.map { [$0] } ?? [], store: store)
        return JSONBody.response(status: .ok, APIKeyResponse(key, tenantSlug: key.tenantID.flatMap { slugs[$0] }))
    }
}

/// Maps tenant ids to slugs for responses.
enum TenantSlugs {
    static func resolve(_ ids: [UUID], store: any Store) async throws -> [UUID: String] {
        guard !ids.isEmpty else { return [:] }
        return try await store.read { try await $0.tenants.slugs(ids: ids) }
    }
}
