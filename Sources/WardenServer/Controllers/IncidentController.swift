import Hummingbird
import WardenCore

/// `/v1/tenants/{tenant}/incidents`: incidents, and the incident-triggered rollback of the runbook.
struct IncidentController {
    let scope: TenantScope
    let bundles: BundleService

    func addRoutes(to group: RouterGroup<WardenRequestContext>) {
        group.post("/tenants/{tenant}/incidents", use: create)
        group.get("/tenants/{tenant}/incidents", use: list)
    }

    @Sendable func create(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let fields = try JSONFields(try await JSONBody.document(from: request, context: context))
        let severity = try ToolController.parse(try fields.string("severity"), as: Incident.Severity.self, field: "severity")
        let details: [String: JSONValue]
        switch fields.optionalValue("details") {
        case nil: details = [:]
        case .object(let object)?: details = object
        default: throw WardenError(.invalidField, "field 'details' must be an object")
        }
        let (tenant, principal) = try await scope.tenant(context, .activateBundles)
        let outcome = try await bundles.reportIncident(
            by: principal, tenant: tenant, severity: severity, source: try fields.string("source"), title: try fields.string("title"),
            details: details, errorRate: try fields.optionalNumber("error_rate"))
        return JSONBody.response(
            status: .created,
            JSONValue.object([
                "incident": Render.incident(outcome.incident), "matrix": outcome.verdict.map { .string($0.rawValue) } ?? .null,
                "rolled_back": outcome.rolledBack.map { Render.bundle($0.bundle, tenantSlug: tenant.slug, withSources: false) } ?? .null,
                "restored": outcome.rolledBack?.restored.map { Render.bundle($0, tenantSlug: tenant.slug, withSources: false) } ?? .null,
            ]))
    }

    @Sendable func list(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let page = try PageRequest(limit: request.query("limit"), cursor: request.query("cursor"))
        let (tenant, principal) = try await scope.tenant(context, .readBundles)
        let result = try await bundles.incidents(by: principal, tenant: tenant, page: page)
        return JSONBody.response(status: .ok, Render.list(result.items.map(Render.incident), next: result.nextCursor))
    }
}
