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
        return JSONBody.response(status: .ok, ListResponse(items: result.items.map { TenantResponse($0) }, nextCursor: result.nextCursor))
    }

    @Sendable func show(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let slug = try context.parameters.require("tenant")
        let principal = try context.caller()
        let tenant = try await identity.tenant(slug: slug, for: principal)
        try principal.require(.readTenant)
        return JSONBody.response(status: .ok, TenantResponse(tenant))
    }

    @Sendable func update(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let fields = try await JSONBody.decode([String: JSONValue].self, from: request, context: context)
        let allowed: Set<String> = ["default_effect", "notification_url", "rollout", "force_manual_approval", "approvals", "reason"]
        if let unknown = fields.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw WardenError(
                .invalidField, "unknown field '\(unknown)'; patchable: default_effect, notification_url, rollout, force_manual_approval, approvals")
        }
        guard Set(fields.keys).subtracting(["reason"]).isEmpty == false else {
            throw WardenError(.missingField, "give default_effect, notification_url, rollout, force_manual_approval or approvals")
        }
        var approvals: [String: JSONValue]??
        switch fields["approvals"] {
        case nil: approvals = nil
        case .null?: approvals = .some(nil)
        case .object(let object)?: approvals = .some(object)
        default: throw WardenError(.invalidField, "field 'approvals' must be an object {timeouts, escalation_levels}, or null for the defaults")
        }
        var forceManual: Bool?
        switch fields["force_manual_approval"] {
        case nil: forceManual = nil
        case .bool(let flag)?: forceManual = flag
        default: throw WardenError(.invalidField, "field 'force_manual_approval' must be a boolean")
        }
        var rollout: [String: JSONValue]??
        switch fields["rollout"] {
        case nil: rollout = nil
        case .null?: rollout = .some(nil)
        case .object(let object)?: rollout = .some(object)
        default: throw WardenError(.invalidField, "field 'rollout' must be an object of gate thresholds, or null for the defaults")
        }
        let effect = try fields["default_effect"].map {
            try ToolController.parse(try ToolController.string($0, field: "default_effect"), as: DefaultEffect.self, field: "default_effect")
        }
        var notificationURL: String??
        if let value = fields["notification_url"] {
            notificationURL = .some(value == .null ? nil : try ToolController.string(value, field: "notification_url"))
        }
        let reason = try fields["reason"].map { try ToolController.string($0, field: "reason") }
        let tenant = try await identity.updateTenant(
            by: try context.caller(), slug: try context.parameters.require("tenant"), defaultEffect: effect, notificationURL: notificationURL,
            rollout: rollout, forceManualApproval: forceManual, approvals: approvals, reason: reason
        )
        snapshots.apply(tenant)
        context.logger.notice("tenant.updated", metadata: ["tenant": "\(tenant.slug)", "default_effect": "\(tenant.defaultEffect.rawValue)"])
        return JSONBody.response(status: .ok, TenantResponse(tenant))
    }
}
