import Foundation
import Hummingbird
import Logging
import WardenCore

/// `/v1/tenants/{tenant}/limits` and `/panic`: rate limits of a tenant's decisions, and panic mode
/// (every decision denied). Admins and operators change them; every key of the tenant reads them.
struct GuardrailController {
    let scope: TenantScope
    let guardrails: GuardrailService

    func addRoutes(to group: RouterGroup<WardenRequestContext>) {
        group.get("/tenants/{tenant}/limits", use: limits)
        group.put("/tenants/{tenant}/limits", use: setLimits)
        group.get("/tenants/{tenant}/panic", use: panic)
        group.post("/tenants/{tenant}/panic", use: setPanic)
    }

    @Sendable func limits(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let (tenant, _) = try await scope.tenant(context, .readTenant)
        return JSONBody.response(status: .ok, Self.limits(tenant))
    }

    /// `{tenant?, agent?, agents?, tool?, tools?, reason}`: each limit `{rate, burst?}`; the whole set
    /// is replaced (send none to remove them). Audited as `tenant.limits_updated`.
    @Sendable func setLimits(_ request: Request, context: WardenRequestContext) async throws -> Response {
        guard case .object(var fields)? = try await JSONBody.document(from: request, context: context) else {
            throw WardenError(.malformedJSON, "request body must be a JSON object")
        }
        let reason = try JSONFields(.object(fields)).string("reason")
        fields["reason"] = nil
        let limits = try TenantLimits.parse(.object(fields))
        let (tenant, principal) = try await scope.tenant(context, .operateKillSwitch)
        let updated = try await guardrails.setLimits(by: principal, tenant: tenant, limits: limits, reason: reason)
        context.logger.notice("tenant.limits_updated", metadata: ["tenant": "\(tenant.slug)", "actor": "\(principal.actor)"])
        return JSONBody.response(status: .ok, Self.limits(updated))
    }

    @Sendable func panic(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let (tenant, _) = try await scope.tenant(context, .readTenant)
        return JSONBody.response(status: .ok, Self.panic(tenant, now: guardrails.now()))
    }

    /// `{enabled, reason, expires_in?}` (seconds). Audited; announced on the event stream.
    @Sendable func setPanic(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let fields = try JSONFields(try await JSONBody.document(from: request, context: context))
        guard case .bool(let enabled)? = fields.optionalValue("enabled") else {
            throw WardenError(.missingField, "enabled (true or false) is required")
        }
        let reason = try fields.string("reason")
        let expiresIn = try fields.optionalNumber("expires_in")
        let (tenant, principal) = try await scope.tenant(context, .operateKillSwitch)
        let updated = try await guardrails.setPanic(by: principal, tenant: tenant, enabled: enabled, reason: reason, expiresIn: expiresIn)
        context.logger.critical(
            enabled ? "tenant.panic_enabled" : "tenant.panic_disabled",
            metadata: ["tenant": "\(tenant.slug)", "actor": "\(principal.actor)", "reason": "\(reason)"])
        return JSONBody.response(status: .ok, Self.panic(updated, now: guardrails.now()))
    }

    static func limits(_ tenant: Tenant) -> JSONValue {
        guard case .object(var fields) = (tenant.limits ?? TenantLimits()).json else { return .null }
        fields["tenant_slug"] = .string(tenant.slug)
        return .object(fields)
    }

    static func panic(_ tenant: Tenant, now: Date) -> JSONValue {
        guard let panic = tenant.panic else { return .object(["enabled": .bool(false)]) }
        return .object([
            "enabled": .bool(panic.isActive(at: now)), "since": .string(Timestamp.format(panic.since)),
            "until": panic.until.map { .string(Timestamp.format($0)) } ?? .null, "reason": .string(panic.reason), "by": .string(panic.by),
        ])
    }
}
