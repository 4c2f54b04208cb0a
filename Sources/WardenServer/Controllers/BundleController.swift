import Foundation
import Hummingbird
import Logging
import Rego
import WardenCore

/// `/v1/tenants/{tenant}/bundles`: policy bundles, drafts and activation.
struct BundleController {
    let scope: TenantScope
    let bundles: BundleService
    let sandbox: PolicySandbox

    struct EvaluateRequest: Decodable {
        var agent: String
        var tool: String
        var action: String
        var input: JSONValue?
        var runID: String?
        var cost: Double?
        var bundleID: String?

        enum CodingKeys: String, CodingKey {
            case agent, tool, action, input, cost
            case runID = "run_id"
            case bundleID = "bundle_id"
        }
    }

    struct CreateRequest: Decodable {
        var version: String
        var modules: [String: String]?
        var data: JSONValue?
        var rules: [JSONValue]?
        var opa: OPARequest?
        var entrypoint: String?
        var defaultEffect: String?
        var notes: String?

        struct OPARequest: Decodable {
            var url: String
            var path: String
            var timeoutMS: Int?

            enum CodingKeys: String, CodingKey {
                case url, path
                case timeoutMS = "timeout_ms"
            }
        }

        enum CodingKeys: String, CodingKey {
            case version, modules, data, rules, opa, entrypoint, notes
            case defaultEffect = "default_effect"
        }
    }

    struct ActivateRequest: Decodable {
        var reason: String?
    }

    struct PromoteRequest: Decodable {
        var to: String
        var reason: String?
        var force: Bool?
    }

    struct RollbackRequest: Decodable {
        var reason: String
        var rolledBackBy: String?
        var createIncident: Bool?

        enum CodingKeys: String, CodingKey {
            case reason
            case rolledBackBy = "rolled_back_by"
            case createIncident = "create_incident"
        }
    }

    static let defaultEntrypoint = "data.warden.decision"

    func addRoutes(to group: RouterGroup<WardenRequestContext>) {
        group.post("/tenants/{tenant}/bundles", use: create)
        group.get("/tenants/{tenant}/bundles", use: list)
        group.get("/tenants/{tenant}/bundles/{bundle}", use: show)
        group.patch("/tenants/{tenant}/bundles/{bundle}", use: update)
        group.post("/tenants/{tenant}/bundles/{bundle}/activate", use: activate)
        group.post("/tenants/{tenant}/bundles/{bundle}/approve", use: approve)
        group.post("/tenants/{tenant}/bundles/{bundle}/promote", use: promote)
        group.post("/tenants/{tenant}/bundles/{bundle}/rollback", use: rollback)
        group.get("/tenants/{tenant}/bundles/{bundle}/canary-status", use: canaryStatus)
        group.post("/tenants/{tenant}/bundles/{bundle}/check-gates", use: checkGates)
        group.get("/tenants/{tenant}/bundles/{bundle}/export", use: export)
        group.post("/tenants/{tenant}/bundles/{bundle}/simulate", use: simulate)
        group.post("/tenants/{tenant}/bundles/import", use: importBundle)
        group.get("/tenants/{tenant}/bundles/{bundle}/lint", use: lint)
        group.post("/tenants/{tenant}/evaluate", use: evaluate)
    }

    /// A decision without side effects, with the bundle asked and the rules that produced values.
    @Sendable func evaluate(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let body = try await JSONBody.decode(EvaluateRequest.self, from: request, context: context)
        var bundleID: UUID?
        if let text = body.bundleID {
            bundleID = try WardenRequestContext.id(text, .bundleNotFound, "bundle")
        }
        let (tenant, principal) = try await scope.tenant(context, .readBundles)
        let decisionRequest = DecisionRequest(
            tool: body.tool, action: body.action, input: body.input ?? .object([:]), runID: body.runID, cost: body.cost)
        let explanation = try await sandbox.evaluate(by: principal, tenant: tenant, agentID: body.agent, decisionRequest, bundleID: bundleID)
        return JSONBody.response(status: .ok, Render.explanation(explanation))
    }

    @Sendable func lint(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let (tenant, principal) = try await scope.tenant(context, .readBundles)
        let (bundle, findings) = try await bundles.lint(by: principal, tenant: tenant, id: try Self.bundleID(context))
        return JSONBody.response(
            status: .ok,
            JSONValue.object([
                "bundle_id": Render.id(bundle.id), "version": .string(bundle.version.description), "rules": .int(Int64(bundle.rules.arrayCount)),
                "findings": .array(findings.map(Render.finding)),
            ]))
    }

    @Sendable func create(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let body = try await JSONBody.decode(CreateRequest.self, from: request, context: context)
        let modules = body.modules ?? [:]
        let rules = JSONValue.array(body.rules ?? [])
        let opa = try body.opa.map { try ExternalOPA.validated(url: $0.url, path: $0.path, timeoutMilliseconds: $0.timeoutMS) }
        guard !modules.isEmpty || rules.arrayCount > 0 || opa != nil else {
            throw WardenError(.missingField, "a bundle needs Rego modules, native rules, or an OPA server")
        }
        // Rules alone decide through their own entry point unless told otherwise.
        let entrypoint = body.entrypoint ?? (modules.isEmpty ? NativeRules.entrypoint : Self.defaultEntrypoint)
        let draft = BundleDraft(
            version: body.version, modules: modules, data: body.data ?? .object([:]), rules: rules, opa: opa,
            entrypoint: opa.map { "data." + $0.path.replacingOccurrences(of: "/", with: ".") } ?? entrypoint,
            defaultEffect: try body.defaultEffect.map { try ToolController.parse($0, as: DefaultEffect.self, field: "default_effect") } ?? .deny,
            notes: body.notes
        )
        let (tenant, principal) = try await scope.tenant(context, .authorBundles)
        let bundle = try await bundles.create(by: principal, tenant: tenant, draft)
        context.logger.info("bundle.created", metadata: ["tenant": "\(tenant.slug)", "version": "\(bundle.version)"])
        return JSONBody.response(status: .created, Render.bundle(bundle, tenantSlug: tenant.slug))
    }

    @Sendable func list(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let page = try PageRequest(limit: request.query("limit"), cursor: request.query("cursor"))
        let activeOnly: Bool
        switch request.query("active_only") {
        case nil, "false": activeOnly = false
        case "true": activeOnly = true
        case let other?: throw WardenError(.invalidField, "active_only must be true or false (got '\(other)')")
        }
        let (tenant, principal) = try await scope.tenant(context, .readBundles)
        let result = try await bundles.list(by: principal, tenant: tenant, version: request.query("version"), activeOnly: activeOnly, page: page)
        let items = result.items.map { Render.bundle($0, tenantSlug: tenant.slug, withSources: false) }
        return JSONBody.response(status: .ok, Render.list(items, next: result.nextCursor))
    }

    @Sendable func show(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let (tenant, principal) = try await scope.tenant(context, .readBundles)
        let (bundle, transitions) = try await bundles.history(by: principal, tenant: tenant, id: try Self.bundleID(context))
        var rendered = Render.bundle(bundle, tenantSlug: tenant.slug)
        if case .object(var fields) = rendered {
            fields["transitions"] = .array(transitions.map(Render.transition))
            rendered = .object(fields)
        }
        return JSONBody.response(status: .ok, rendered)
    }

    @Sendable func update(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let fields = try await JSONBody.decode([String: JSONValue].self, from: request, context: context)
        let allowed: Set<String> = ["modules", "data", "rules", "entrypoint", "default_effect", "notes"]
        if fields["version"] != nil { throw WardenError(.invalidField, "version cannot change; create a bundle with the new version") }
        if let unknown = fields.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw WardenError(.invalidField, "unknown field '\(unknown)'; patchable: \(allowed.sorted().joined(separator: ", "))")
        }
        var patch = BundlePatch()
        if let value = fields["modules"] {
            guard case .object(let items) = value else {
                throw WardenError(.invalidField, "field 'modules' must be an object of file name to source")
            }
            patch.modules = try items.mapValues { try ToolController.string($0, field: "modules[]") }
        }
        patch.data = fields["data"]
        if let value = fields["rules"] {
            guard case .array = value else { throw WardenError(.invalidField, "field 'rules' must be an array of rule objects") }
            patch.rules = value
        }
        patch.entrypoint = try fields["entrypoint"].map { try ToolController.string($0, field: "entrypoint") }
        patch.defaultEffect = try fields["default_effect"].map {
            try ToolController.parse(try ToolController.string($0, field: "default_effect"), as: DefaultEffect.self, field: "default_effect")
        }
        if let value = fields["notes"] { patch.notes = .some(value == .null ? nil : try ToolController.string(value, field: "notes")) }
        let (tenant, principal) = try await scope.tenant(context, .authorBundles)
        let bundle = try await bundles.update(by: principal, tenant: tenant, id: try Self.bundleID(context), patch)
        return JSONBody.response(status: .ok, Render.bundle(bundle, tenantSlug: tenant.slug))
    }

    @Sendable func activate(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let body = try await JSONBody.decodeOptional(ActivateRequest.self, from: request, context: context) ?? ActivateRequest()
        let (tenant, principal) = try await scope.tenant(context, .activateBundles)
        let bundle = try await bundles.activate(by: principal, tenant: tenant, id: try Self.bundleID(context), reason: body.reason)
        return JSONBody.response(status: .ok, Render.bundle(bundle, tenantSlug: tenant.slug))
    }

    @Sendable func approve(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let body = try await JSONBody.decodeOptional(ActivateRequest.self, from: request, context: context) ?? ActivateRequest()
        let (tenant, principal) = try await scope.tenant(context, .approveBundles)
        let bundle = try await bundles.approve(by: principal, tenant: tenant, id: try Self.bundleID(context), reason: body.reason)
        return JSONBody.response(status: .ok, Render.bundle(bundle, tenantSlug: tenant.slug))
    }

    @Sendable func promote(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let body = try await JSONBody.decode(PromoteRequest.self, from: request, context: context)
        let target = try ToolController.parse(body.to, as: BundleStatus.self, field: "to")
        let (tenant, principal) = try await scope.tenant(context, .activateBundles)
        let bundle = try await bundles.promote(
            by: principal, tenant: tenant, id: try Self.bundleID(context), to: target, reason: body.reason, force: body.force ?? false)
        return JSONBody.response(status: .ok, Render.bundle(bundle, tenantSlug: tenant.slug))
    }

    @Sendable func rollback(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let body = try await JSONBody.decode(RollbackRequest.self, from: request, context: context)
        let (tenant, principal) = try await scope.tenant(context, .activateBundles)
        let moved = try await bundles.rollback(
            by: principal, tenant: tenant, id: try Self.bundleID(context), reason: body.reason, rolledBackBy: body.rolledBackBy,
            createIncident: body.createIncident ?? false)
        let (bundle, restored) = (moved.bundle, moved.restored)
        var warnings: [JSONValue] = []
        if restored == nil, bundle.activatedAt != nil, bundle.status == .archived, bundle.previousBundleID == nil {
            warnings.append(.string("no earlier bundle to hand back to: the tenant's default effect decides until another bundle is active"))
        }
        return JSONBody.response(
            status: .ok,
            JSONValue.object([
                "bundle": Render.bundle(bundle, tenantSlug: tenant.slug, withSources: false),
                "restored": restored.map { Render.bundle($0, tenantSlug: tenant.slug, withSources: false) } ?? .null,
                "incident": moved.incident.map(Render.incident) ?? .null, "warnings": .array(warnings),
            ]))
    }

    @Sendable func canaryStatus(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let (tenant, principal) = try await scope.tenant(context, .readBundles)
        let status = try await bundles.canaryStatus(by: principal, tenant: tenant, id: try Self.bundleID(context))
        return JSONBody.response(status: .ok, Render.canaryStatus(status))
    }

    /// Evaluates the gates now and records the result in `warden_bundle_canary_gate_passed`.
    @Sendable func checkGates(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let (tenant, principal) = try await scope.tenant(context, .readBundles)
        let status = try await bundles.canaryStatus(by: principal, tenant: tenant, id: try Self.bundleID(context), record: true)
        return JSONBody.response(status: .ok, Render.canaryStatus(status))
    }

    /// `{from?, to?, limit?}`: RFC 3339 times; limit 1 to 10,000 (default 1,000).
    @Sendable func simulate(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let fields = try JSONFields(try await JSONBody.document(from: request, context: context) ?? .object([:]))
        func time(_ key: String) throws -> Date? {
            try fields.optionalString(key).map { try Request.time($0, field: key) }
        }
        let limit = try fields.optionalNumber("limit") ?? 1_000
        guard limit == limit.rounded(), limit >= 1, limit <= Double(BundleService.maximumSimulationRecords) else {
            throw WardenError(.invalidField, "limit must be a whole number from 1 to \(BundleService.maximumSimulationRecords)")
        }
        let (tenant, principal) = try await scope.tenant(context, .readBundles)
        let report = try await bundles.simulate(
            by: principal, tenant: tenant, id: try Self.bundleID(context), from: try time("from"), to: try time("to"), limit: Int(limit))
        func counts(_ values: [String: Int]) -> JSONValue { .object(values.mapValues { .int(Int64($0)) }) }
        return JSONBody.response(
            status: .ok,
            JSONValue.object([
                "bundle_id": Render.id(report.bundle.id), "version": .string(report.bundle.version.description),
                "from": Render.time(report.from), "to": Render.time(report.to), "considered": .int(Int64(report.considered)),
                "evaluated": .int(Int64(report.evaluated)), "skipped": counts(report.skipped), "changed": .int(Int64(report.changed)),
                "unchanged": .int(Int64(report.evaluated - report.changed)), "changes": counts(report.changes),
                "simulated_effects": counts(report.effects),
                "examples": .array(
                    report.examples.map { example in
                        .object([
                            "decision_id": Render.id(example.record.id), "agent": .string(example.record.agentID),
                            "tool": .string(example.record.tool), "action": .string(example.record.action),
                            "recorded": .object([
                                "effect": .string(example.record.effect.rawValue), "reasons": Render.strings(example.record.reasons),
                                "bundle": Render.text(example.record.bundle),
                            ]),
                            "simulated": .object([
                                "effect": .string(example.simulated.effect.rawValue), "reasons": Render.strings(example.simulated.reasons),
                            ]),
                        ])
                    }),
            ]))
    }

    @Sendable func export(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let (tenant, principal) = try await scope.tenant(context, .readBundles)
        return JSONBody.response(status: .ok, try await bundles.export(by: principal, tenant: tenant, id: try Self.bundleID(context)))
    }

    /// The body is an export as `GET …/export` answered, plus `import_as_version` if the version is taken.
    @Sendable func importBundle(_ request: Request, context: WardenRequestContext) async throws -> Response {
        guard case .object(var fields)? = try await JSONBody.document(from: request, context: context) else {
            throw WardenError(.malformedJSON, "request body must be a JSON object")
        }
        let renamed = fields.removeValue(forKey: "import_as_version")
        var importAs: String?
        switch renamed {
        case nil, .null?: importAs = nil
        case .string(let version)?: importAs = version
        default: throw WardenError(.invalidField, "field 'import_as_version' must be a string")
        }
        let (tenant, principal) = try await scope.tenant(context, .authorBundles)
        let bundle = try await bundles.importBundle(by: principal, tenant: tenant, .object(fields), importAsVersion: importAs)
        return JSONBody.response(status: .created, Render.bundle(bundle, tenantSlug: tenant.slug))
    }

    static func bundleID(_ context: WardenRequestContext) throws -> UUID {
        try context.id("bundle", .bundleNotFound, "bundle")
    }
}

extension Render {
    static func bundle(_ bundle: PolicyBundle, tenantSlug: String, withSources: Bool = true) -> JSONValue {
        var fields: [String: JSONValue] = [
            "id": id(bundle.id), "tenant": .string(tenantSlug), "version": .string(bundle.version.description),
            "status": .string(bundle.status.rawValue), "entrypoint": .string(bundle.entrypoint),
            "default_effect": .string(bundle.defaultEffect.rawValue), "notes": text(bundle.notes), "created_by": .string(bundle.createdBy),
            "created_at": time(bundle.createdAt), "updated_at": time(bundle.updatedAt), "activated_at": time(bundle.activatedAt),
            "activated_by": text(bundle.activatedBy), "module_names": strings(bundle.modules.keys.sorted()),
            "rule_count": .int(Int64(bundle.rules.arrayCount)), "share": .int(Int64(bundle.status.share)),
            "approved_by": text(bundle.approvedBy), "approved_at": time(bundle.approvedAt), "stage_since": time(bundle.stageSince),
            "previous_bundle_id": bundle.previousBundleID.map(id) ?? .null, "rolled_back_at": time(bundle.rolledBackAt),
            "rolled_back_by": text(bundle.rolledBackBy), "rollback_reason": text(bundle.rollbackReason),
            "opa": bundle.opa.map { opa in
                .object(["url": .string(opa.url), "path": .string(opa.path), "timeout_ms": .int(Int64(opa.timeoutMilliseconds))])
            } ?? .null,
        ]
        if withSources {
            fields["modules"] = .object(bundle.modules.mapValues(JSONValue.string))
            fields["data"] = bundle.data
            fields["rules"] = bundle.rules
        }
        return .object(fields)
    }

    static func incident(_ incident: Incident) -> JSONValue {
        .object([
            "id": id(incident.id), "number": .string(incident.number), "severity": .string(incident.severity.rawValue),
            "source": .string(incident.source), "title": .string(incident.title), "status": .string(incident.status),
            "bundle_id": incident.bundleID.map(id) ?? .null, "action": text(incident.action), "details": incident.details,
            "created_by": .string(incident.createdBy), "created_at": time(incident.createdAt),
        ])
    }

    static func transition(_ transition: BundleTransition) -> JSONValue {
        .object([
            "from": .string(transition.from.rawValue), "to": .string(transition.to.rawValue), "actor": .string(transition.actor),
            "reason": text(transition.reason), "forced": .bool(transition.forced), "at": time(transition.createdAt),
        ])
    }

    static func canaryStatus(_ status: CanaryStatus) -> JSONValue {
        func stats(_ stats: CohortStats) -> JSONValue {
            func rate(_ value: Double?) -> JSONValue { value.map(JSONValue.double) ?? .null }
            return .object([
                "samples": .int(Int64(stats.samples)), "error_rate": rate(stats.errorRate), "deny_rate": rate(stats.denyRate),
                "no_match_rate": rate(stats.noMatchRate), "average_cost": rate(stats.averageCost),
            ])
        }
        return .object([
            "bundle_id": id(status.bundle.id), "version": .string(status.bundle.version.description), "stage": .string(status.bundle.status.rawValue),
            "share": .int(Int64(status.bundle.status.share)), "since": time(status.since), "seconds_in_stage": .int(Int64(status.timeInStage)),
            "minimum_stage_seconds": .int(Int64(status.minimumStageTime)), "samples": .int(Int64(status.canary.samples)),
            "canary": stats(status.canary), "baseline": stats(status.baseline), "passed": .bool(status.passed),
            "promotable": .bool(status.promotable),
            "gates": .array(
                status.gates.map { gate in
                    .object([
                        "name": .string(gate.name), "threshold": .double(gate.threshold), "value": gate.value.map(JSONValue.double) ?? .null,
                        "passed": .bool(gate.passed),
                    ])
                }),
        ])
    }

    static func explanation(_ explanation: PolicySandbox.Explanation) -> JSONValue {
        let outcome = explanation.outcome
        var bundle: JSONValue = .null
        if let chosen = explanation.bundle {
            bundle = .object([
                "id": id(chosen.id), "version": .string(chosen.version.description), "status": .string(chosen.status.rawValue),
                "active": .bool(explanation.isActiveBundle),
            ])
        }
        let rules: [JSONValue] = explanation.trace.map { step in
            .object([
                "rule": .string(step.rule), "file": .string(step.file), "line": .int(Int64(step.line)), "value": PolicyValue.json(step.value),
                "default": .bool(step.isDefault),
            ])
        }
        return .object([
            "effect": .string(outcome.effect.rawValue), "reasons": strings(outcome.reasons), "bundle": text(outcome.bundle),
            "bundle_id": outcome.bundleID.map(id) ?? .null, "obligations": outcome.obligations ?? .null,
            "explanation": .object([
                "short_circuit": text(explanation.shortCircuit), "bundle": bundle, "entrypoint": text(explanation.entrypoint),
                "policy_result": text(explanation.policyResult?.rawValue), "policy_error": text(explanation.policyError),
                "rules": .array(rules), "input": explanation.input.map(PolicyValue.json) ?? .null,
            ]),
        ])
    }

    static func finding(_ finding: NativeRules.Finding) -> JSONValue {
        .object([
            "kind": .string(finding.kind.rawValue), "rule": .string(finding.rule), "other": text(finding.other),
            "message": .string(finding.message),
        ])
    }
}
