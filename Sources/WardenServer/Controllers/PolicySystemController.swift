import HTTPTypes
import Hummingbird
import WardenCore

/// `/v1/policy/system`: the emergency bypass of policy evaluation (global admins).
struct PolicySystemController {
    let system: PolicySystemService
    let bypass: PolicyBypass

    struct SwitchRequest: Decodable {
        var reason: String?
        var enabled: Bool?
    }

    func addRoutes(to group: RouterGroup<WardenRequestContext>) {
        group.get("/policy/system", use: show)
        group.post("/policy/system/disable", use: disable)
        group.post("/policy/system/enable", use: enable)
    }

    @Sendable func show(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let principal = try context.caller()
        guard principal.isGlobalAdmin else { throw WardenError(.forbidden, "only a global admin may see the policy system's state") }
        return JSONBody.response(status: .ok, Self.render(bypass.current))
    }

    @Sendable func disable(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let body = try await JSONBody.decodeOptional(SwitchRequest.self, from: request, context: context) ?? SwitchRequest()
        if body.enabled == true { throw WardenError(.invalidField, "this endpoint disables policy evaluation; to enable it, POST …/enable") }
        let override = request.headers[HTTPField.Name("X-Emergency-Override")!]?.lowercased() == "true"
        let state = try await system.disable(by: try context.caller(), reason: body.reason, emergencyOverride: override)
        return JSONBody.response(status: .ok, Self.render(state))
    }

    @Sendable func enable(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let body = try await JSONBody.decodeOptional(SwitchRequest.self, from: request, context: context) ?? SwitchRequest()
        try await system.enable(by: try context.caller(), reason: body.reason)
        return JSONBody.response(status: .ok, Self.render(nil))
    }

    static func render(_ state: PolicyBypass.State?) -> JSONValue {
        guard let state else { return .object(["policy_evaluation": .string("enabled"), "bypass": .bool(false)]) }
        return .object([
            "policy_evaluation": .string("disabled"), "bypass": .bool(true), "since": Render.time(state.since), "by": .string(state.by),
            "reason": .string(state.reason),
        ])
    }
}
