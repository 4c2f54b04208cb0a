import Foundation
import Hummingbird
import Logging
import WardenCore

/// `/v1/tenants/{tenant}/tools`: the registry, the kill switch and adapter acknowledgements.
struct ToolController {
    let scope: TenantScope
    let tools: ToolService

    struct CreateRequest: Decodable {
        var name: String
        var description: String?
        var risk: String
        var capabilities: [String]
        var approvalLevel: String?
        var endpoint: String?
        var compensation: String?
        var reason: String?

        enum CodingKeys: String, CodingKey {
            case name, description, risk, capabilities, endpoint, compensation, reason
            case approvalLevel = "approval_level"
        }
    }

    struct StateRequest: Decodable {
        var reason: String
    }

    struct AckRequest: Decodable {
        var adapterID: String
        var stateVersion: Int

        enum CodingKeys: String, CodingKey {
            case adapterID = "adapter_id"
            case stateVersion = "state_version"
        }
    }

    func addRoutes(to group: RouterGroup<WardenRequestContext>) {
        group.post("/tenants/{tenant}/tools", use: create)
        group.get("/tenants/{tenant}/tools", use: list)
        group.get("/tenants/{tenant}/tools/{tool}", use: show)
        group.patch("/tenants/{tenant}/tools/{tool}", use: update)
        group.post("/tenants/{tenant}/tools/{tool}/kill", use: kill)
        group.post("/tenants/{tenant}/tools/{tool}/restore", use: restore)
        group.post("/tenants/{tenant}/tools/{tool}/ack", use: acknowledge)
    }

    @Sendable func create(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let body = try await JSONBody.decode(CreateRequest.self, from: request, context: context)
        let draft = ToolDraft(
            name: body.name, description: body.description ?? "", risk: try Self.parse(body.risk, as: Risk.self, field: "risk"),
            capabilities: body.capabilities,
            approvalLevel: try body.approvalLevel.map { try Self.parse($0, as: ApprovalLevel.self, field: "approval_level") } ?? .autoApprove,
            endpoint: body.endpoint, compensation: body.compensation
        )
        let (tenant, principal) = try await scope.tenant(context, .manageTools)
        let tool = try await tools.register(by: principal, tenant: tenant, draft, reason: body.reason)
        context.logger.info("tool.registered", metadata: ["tenant": "\(tenant.slug)", "tool": "\(tool.name)"])
        return JSONBody.response(status: .created, Render.tool(tool, acks: [], tenantSlug: tenant.slug))
    }

    @Sendable func list(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let page = try PageRequest(limit: request.query("limit"), cursor: request.query("cursor"))
        let (tenant, principal) = try await scope.tenant(context, .readTools)
        let result = try await tools.list(by: principal, tenant: tenant, page: page)
        let acks = try await tools.acks(for: result.items)
        let items = result.items.map { Render.tool($0, acks: acks[$0.id] ?? [], tenantSlug: tenant.slug) }
        return JSONBody.response(status: .ok, Render.list(items, next: result.nextCursor))
    }

    @Sendable func show(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let (tenant, _) = try await scope.tenant(context, .readTools)
        let (tool, acks) = try await tools.get(tenant: tenant, name: try context.parameters.require("tool"))
        return JSONBody.response(status: .ok, Render.tool(tool, acks: acks, tenantSlug: tenant.slug))
    }

    @Sendable func update(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let fields = try await JSONBody.decode([String: JSONValue].self, from: request, context: context)
        let allowed: Set<String> = ["description", "risk", "capabilities", "approval_level", "endpoint", "compensation", "reason"]
        if fields["is_active"] != nil {
            throw WardenError(.invalidField, "is_active cannot be patched; use POST …/kill or …/restore with a reason")
        }
        if let unknown = fields.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw WardenError(.invalidField, "unknown field '\(unknown)'; patchable: \(allowed.sorted().joined(separator: ", "))")
        }
        var patch = ToolPatch()
        patch.description = try fields["description"].map { try Self.string($0, field: "description") }
        patch.risk = try fields["risk"].map { try Self.parse(try Self.string($0, field: "risk"), as: Risk.self, field: "risk") }
        if let value = fields["capabilities"] {
            guard case .array(let items) = value else { throw WardenError(.invalidField, "field 'capabilities' must be an array of strings") }
            patch.capabilities = try items.map { try Self.string($0, field: "capabilities[]") }
        }
        patch.approvalLevel = try fields["approval_level"].map {
            try Self.parse(try Self.string($0, field: "approval_level"), as: ApprovalLevel.self, field: "approval_level")
        }
        if let value = fields["endpoint"] { patch.endpoint = .some(value == .null ? nil : try Self.string(value, field: "endpoint")) }
        if let value = fields["compensation"] {
            patch.compensation = .some(value == .null ? nil : try Self.string(value, field: "compensation"))
        }
        let reason = try fields["reason"].map { try Self.string($0, field: "reason") }
        let (tenant, principal) = try await scope.tenant(context, .manageTools)
        let name = try context.parameters.require("tool")
        let tool = try await tools.update(by: principal, tenant: tenant, name: name, patch, reason: reason)
        let (_, acks) = try await tools.get(tenant: tenant, name: name)
        return JSONBody.response(status: .ok, Render.tool(tool, acks: acks, tenantSlug: tenant.slug))
    }

    @Sendable func kill(_ request: Request, context: WardenRequestContext) async throws -> Response {
        try await setActive(false, request, context)
    }

    @Sendable func restore(_ request: Request, context: WardenRequestContext) async throws -> Response {
        try await setActive(true, request, context)
    }

    private func setActive(_ active: Bool, _ request: Request, _ context: WardenRequestContext) async throws -> Response {
        let body = try await JSONBody.decode(StateRequest.self, from: request, context: context)
        let (tenant, principal) = try await scope.tenant(context, .operateKillSwitch)
        let name = try context.parameters.require("tool")
        let tool = try await tools.setActive(active, by: principal, tenant: tenant, name: name, reason: body.reason)
        let (_, acks) = try await tools.get(tenant: tenant, name: name)
        return JSONBody.response(status: .ok, Render.tool(tool, acks: acks, tenantSlug: tenant.slug))
    }

    /// An adapter's acknowledgement of a tool's state: by an agent of the tenant, or a key that may
    /// kill and restore tools. A key that only reads could otherwise claim an adapter applied a kill.
    @Sendable func acknowledge(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let (tenant, actor) = try await scope.tenantForAgentOrKey(context, .operateKillSwitch)
        let body = try await JSONBody.decode(AckRequest.self, from: request, context: context)
        let name = try context.parameters.require("tool")
        let ack = try await tools.acknowledge(tenant: tenant, name: name, adapterID: body.adapterID, stateVersion: body.stateVersion)
        context.logger.info(
            "kill_switch.acknowledged",
            metadata: [
                "tenant": "\(tenant.slug)", "tool": "\(name)", "adapter_id": "\(ack.adapterID)", "state_version": "\(ack.stateVersion)",
                "actor": "\(actor)",
            ]
        )
        return JSONBody.response(status: .ok, Render.ack(ack, tool: name))
    }

    static func parse<T: RawRepresentable & CaseIterable>(_ text: String, as: T.Type, field: String) throws -> T where T.RawValue == String {
        guard let value = T(rawValue: text) else {
            throw WardenError(.invalidField, "\(field) must be one of \(T.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return value
    }

    static func string(_ value: JSONValue, field: String) throws -> String {
        guard case .string(let text) = value else { throw WardenError(.invalidField, "field '\(field)' must be a string") }
        return text
    }
}
