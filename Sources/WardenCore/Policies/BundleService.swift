public import Foundation
public import Logging
import Metrics

/// Policy bundles: drafts are created and edited, then activated. Every change is committed with its
/// audit event; an activation also swaps the tenant's snapshot before it returns, so the very next
/// decision is made by the new bundle.
public struct BundleService: Sendable {
    let store: any Store
    let snapshots: SnapshotStore
    let hub: EventHub
    let clock: any WallClock
    let logger: Logger
    /// How long a bundle stays in a canary stage before it may be promoted (unforced).
    let minimumStageTime: TimeInterval
    /// The canary's quality gates.
    let thresholds: GateThresholds
    /// Delivers rollout notifications (rollbacks, incidents) to tenants' notification URLs.
    let notifier: (any RolloutNotifier)?
    /// Signs exports and checks imports.
    let signer: BundleSigner?

    /// Bounds on what a bundle may hold, so a tenant cannot make the server compile without end.
    public static let maximumModules = 200
    public static let maximumSourceBytes = 1 << 20

    public init(
        store: any Store, snapshots: SnapshotStore, hub: EventHub, clock: any WallClock, logger: Logger, minimumStageTime: TimeInterval = 86_400,
        thresholds: GateThresholds = GateThresholds(), notifier: (any RolloutNotifier)? = nil, signer: BundleSigner? = nil
    ) {
        self.signer = signer
        self.notifier = notifier
        self.minimumStageTime = minimumStageTime
        self.thresholds = thresholds
        self.store = store
        self.snapshots = snapshots
        self.hub = hub
        self.clock = clock
        self.logger = logger
    }

    func now() -> Date { Timestamp.truncated(clock.now()) }

    // MARK: Drafts

    public func create(by principal: Principal, tenant: Tenant, _ draft: BundleDraft, importedFrom: [String: String]? = nil) async throws
        -> PolicyBundle
    {
        try principal.require(.authorBundles)
        guard let version = SemanticVersion(draft.version) else {
            throw WardenError(.invalidField, "version '\(draft.version)' is not a semantic version (MAJOR.MINOR.PATCH, such as 1.4.0)")
        }
        try Self.validate(modules: draft.modules, notes: draft.notes)
        if draft.opa != nil {
            guard draft.modules.isEmpty, draft.rules.arrayCount == 0 else {
                throw WardenError(.invalidField, "a bundle either names an OPA server or holds modules and rules, not both")
            }
        } else {
            _ = try CompiledBundle.compile(modules: draft.modules, data: draft.data, rules: draft.rules, entrypoint: draft.entrypoint)
        }
        let now = now()
        let bundle = PolicyBundle(
            id: UUID.v7(at: now), tenantID: tenant.id, version: version, status: .draft, modules: draft.modules, data: draft.data,
            rules: draft.rules, opa: draft.opa, entrypoint: draft.entrypoint, defaultEffect: draft.defaultEffect, notes: draft.notes,
            createdBy: principal.actor,
            createdAt: now, updatedAt: now
        )
        try await store.write { repos in
            let versions = try await repos.bundles.versions(tenantID: tenant.id)
            if versions.contains(version) {
                throw WardenError(.bundleVersionExists, "bundle version \(version) already exists in tenant '\(tenant.slug)'")
            }
            // No skipped versions: the next patch, minor or major of the latest one.
            let latest = versions.max()
            guard version.follows(latest) else {
                throw WardenError(
                    .versionSkipped,
                    "bundle version \(version) does not follow \(latest.map(\.description) ?? "-"); the next version is one of \(latest?.successors.joined(separator: ", ") ?? "")",
                    details: [
                        "latest_version": .string(latest?.description ?? ""), "allowed": .array((latest?.successors ?? []).map(JSONValue.string)),
                    ])
            }
            try await repos.bundles.insert(bundle)
            try await repos.audit.append(
                AuditEvent(
                    id: UUID(), tenantID: tenant.id, actor: principal.actor, action: importedFrom == nil ? "bundle.created" : "bundle.imported",
                    target: "bundle:\(version)", reason: draft.notes,
                    details: [
                        "bundle_id": bundle.id.uuidString.lowercased(), "modules": String(draft.modules.count),
                        "rules": String(draft.rules.arrayCount),
                    ].merging(importedFrom ?? [:]) { _, new in new },
                    createdAt: now
                )
            )
        }
        return bundle
    }

    /// Changes a draft; any other status is immutable (409).
    public func update(by principal: Principal, tenant: Tenant, id: UUID, _ patch: BundlePatch) async throws -> PolicyBundle {
        try principal.require(.authorBundles)
        if let modules = patch.modules { try Self.validate(modules: modules, notes: nil) }
        if let notes = patch.notes { try Self.validate(modules: [:], notes: notes) }
        let now = now()
        // Compiled outside the transaction (a large policy takes a while; the database is not held
        // meanwhile), then written only if the draft did not change in between.
        let read = try await store.read { try await Self.find(tenant: tenant, id: id, $0) }
        var bundle = read
        guard bundle.status == .draft else {
            throw WardenError(.bundleImmutable, "bundle \(bundle.version) is \(bundle.status.rawValue); only drafts can change")
        }
        var changes = FieldChanges()
        changes.apply(patch.modules, to: &bundle.modules, field: "modules")
        changes.apply(patch.data, to: &bundle.data, field: "data")
        changes.apply(patch.rules, to: &bundle.rules, field: "rules")
        changes.apply(patch.entrypoint, to: &bundle.entrypoint, field: "entrypoint")
        changes.apply(patch.defaultEffect, to: &bundle.defaultEffect, field: "default_effect")
        changes.apply(patch.notes, to: &bundle.notes, field: "notes")
        let changed = changes.names
        guard !changed.isEmpty else { return bundle }
        if bundle.opa == nil {
            _ = try CompiledBundle.compile(modules: bundle.modules, data: bundle.data, rules: bundle.rules, entrypoint: bundle.entrypoint)
        } else if !bundle.modules.isEmpty || bundle.rules.arrayCount > 0 {
            throw WardenError(.invalidField, "a bundle either names an OPA server or holds modules and rules, not both")
        }
        bundle.updatedAt = now
        return try await store.write { [bundle] repos in
            try Self.requireUnchanged(try await Self.find(tenant: tenant, id: id, repos), since: read)
            try await repos.bundles.update(bundle)
            try await repos.audit.append(
                AuditEvent(
                    id: UUID(), tenantID: tenant.id, actor: principal.actor, action: "bundle.updated", target: "bundle:\(bundle.version)",
                    reason: nil, details: ["bundle_id": bundle.id.uuidString.lowercased(), "fields": changed.joined(separator: ",")],
                    createdAt: now
                )
            )
            return bundle
        }
    }

    // MARK: Reading

    public func get(by principal: Principal, tenant: Tenant, id: UUID) async throws -> PolicyBundle {
        try principal.require(.readBundles)
        return try await store.read { try await Self.find(tenant: tenant, id: id, $0) }
    }

    public func list(by principal: Principal, tenant: Tenant, version: String?, activeOnly: Bool, page: PageRequest) async throws
        -> Page<PolicyBundle>
    {
        try principal.require(.readBundles)
        let query = BundleQuery(tenantID: tenant.id, version: version, activeOnly: activeOnly)
        return try await store.read { try await $0.bundles.list(query, page) }
    }

    // MARK: Rollout

    /// Approves a draft; the approver must not be its author (`approver` or `admin` role).
    public func approve(by principal: Principal, tenant: Tenant, id: UUID, reason: String?) async throws -> PolicyBundle {
        try principal.require(.approveBundles)
        return try await move(actor: principal.actor, tenant: tenant, id: id, .approve, reason: reason, force: false).bundle
    }

    /// Moves an approved or canary bundle forward (`canary_10`, `canary_50`, `active`). Leaving a
    /// canary needs its minimum time and passing gates unless `force` (with a reason).
    public func promote(by principal: Principal, tenant: Tenant, id: UUID, to target: BundleStatus, reason: String?, force: Bool) async throws
        -> PolicyBundle
    {
        try principal.require(.activateBundles)
        return try await move(actor: principal.actor, tenant: tenant, id: id, .promote(to: target), reason: reason, force: force).bundle
    }

    /// Makes an approved (or canary) bundle active at once, skipping the canary: a forced promotion.
    public func activate(by principal: Principal, tenant: Tenant, id: UUID, reason: String?) async throws -> PolicyBundle {
        try await promote(
            by: principal, tenant: tenant, id: id, to: .active, reason: reason ?? "activated directly, without a canary", force: true)
    }

    /// Ends a canary or active bundle (archived, read-only). A rolled-back active bundle hands back to
    /// the bundle it replaced, which is active again at once; `restored` names it.
    public func rollback(
        by principal: Principal, tenant: Tenant, id: UUID, reason: String?, rolledBackBy: String?, createIncident: Bool = false
    ) async throws -> Moved {
        try principal.require(.activateBundles)
        if let rolledBackBy { try Tool.validate(text: rolledBackBy, field: "rolled_back_by", max: 200) }
        let incident: IncidentDraft? =
            createIncident
            ? IncidentDraft(
                severity: .high, source: "policy.rollback", title: "Manual rollback of a policy bundle", action: "rollback",
                details: ["reason": .string(reason ?? ""), "rolled_back_by": .string(rolledBackBy ?? principal.actor)]) : nil
        let moved = try await move(
            actor: principal.actor, tenant: tenant, id: id, .rollback, reason: reason, force: false, onBehalfOf: rolledBackBy, incident: incident)
        rollbacks(tenant: tenant, trigger: "manual").increment()
        notify(tenant: tenant, moved, type: "policy.rollback")
        return moved
    }

    // MARK: Export and import

    /// The bundle with a signature and an expiry (24 h), for another tenant or environment. Audited.
    public func export(by principal: Principal, tenant: Tenant, id: UUID) async throws -> JSONValue {
        try principal.require(.readBundles)
        guard let signer else { throw WardenError(.internalError, "no bundle signing key is configured") }
        let bundle = try await store.read { try await Self.find(tenant: tenant, id: id, $0) }
        let now = now()
        let exported = try BundleTransfer.export(bundle, tenantSlug: tenant.slug, signer: signer, now: now)
        try await store.write { repos in
            try await repos.audit.append(
                AuditEvent(
                    id: UUID(), tenantID: tenant.id, actor: principal.actor, action: "bundle.exported", target: "bundle:\(bundle.version)",
                    reason: nil, details: ["bundle_id": bundle.id.uuidString.lowercased(), "alg": signer.algorithm, "key_id": signer.keyID],
                    createdAt: now))
        }
        return exported
    }

    /// A draft from a signed export, once its signature and expiry check out; as `importAsVersion`
    /// when given (the export's own version may exist here already: 409 otherwise). It still needs
    /// approval before it decides.
    public func importBundle(by principal: Principal, tenant: Tenant, _ document: JSONValue, importAsVersion: String?) async throws
        -> PolicyBundle
    {
        try principal.require(.authorBundles)
        guard let signer else { throw WardenError(.internalError, "no bundle signing key is configured") }
        let contents = try BundleTransfer.verify(document, signer: signer, now: clock.now())
        func text(_ key: String) -> String? { if case .string(let value)? = contents[key] { value } else { nil } }
        guard case .string(let exportedVersion)? = contents["version"], let entrypoint = text("entrypoint") else {
            throw WardenError(.invalidSignature, "the signed bundle lacks a version or entry point")
        }
        var modules: [String: String] = [:]
        if case .object(let items)? = contents["modules"] {
            for (name, source) in items {
                guard case .string(let text) = source else { throw WardenError(.invalidField, "module '\(name)' is not text") }
                modules[name] = text
            }
        }
        var opa: ExternalOPA?
        if case .object(let server)? = contents["opa"], case .string(let url)? = server["url"], case .string(let path)? = server["path"] {
            var timeout: Int?
            if case .int(let milliseconds)? = server["timeout_ms"] { timeout = Int(milliseconds) }
            opa = try ExternalOPA.validated(url: url, path: path, timeoutMilliseconds: timeout)
        }
        let draft = BundleDraft(
            version: importAsVersion ?? exportedVersion, modules: modules, data: contents["data"] ?? .object([:]),
            rules: contents["rules"] ?? .array([]), opa: opa, entrypoint: entrypoint,
            defaultEffect: text("default_effect").flatMap(DefaultEffect.init(rawValue:)) ?? .deny,
            notes: text("notes"))
        var source = ["imported_version": exportedVersion, "alg": signer.algorithm, "key_id": signer.keyID]
        if let tenant = text("source_tenant") { source["source_tenant"] = tenant }
        if let id = text("source_id") { source["source_bundle_id"] = id }
        return try await create(by: principal, tenant: tenant, draft, importedFrom: source)
    }

    // MARK: Automatic rollback and incidents

    /// One pass of the canary monitor: every running canary's gates are measured; a canary that trips
    /// an automatic-rollback trigger (`AutoRollback.triggers`) is rolled back at once, with a high
    /// incident holding the figures, a notification, and `warden_policy_rollback_total{trigger="auto"}`.
    /// Returns the rollbacks it made. A failure on one tenant is logged and the pass goes on.
    @discardableResult
    public func monitorCanaries() async -> [Moved] {
        let canaries: [PolicyBundle]
        do {
            canaries = try await store.read { try await $0.bundles.canaries() }
        } catch {
            logger.warning("canary_monitor.read_failed", metadata: ["error": "\(String(describing: error))"])
            return []
        }
        var moved: [Moved] = []
        for bundle in canaries {
            var rollingBack: Tenant?
            do {
                guard let tenant = try await store.read({ try await $0.tenants.find(id: bundle.tenantID) }) else { continue }
                let status = try await canaryStatus(of: bundle, tenant: tenant, now: now())
                Gauge(label: "warden_bundle_canary_gate_passed", dimensions: [("tenant", tenant.slug)]).record(status.passed ? 1 : 0)
                let triggers = AutoRollback.triggers(canary: status.canary, baseline: status.baseline)
                guard !triggers.isEmpty else { continue }
                let reason = "automatic rollback: " + triggers.joined(separator: "; ")
                rollingBack = tenant
                let incident = IncidentDraft(
                    severity: .high, source: "policy.auto_rollback", title: "Canary \(bundle.version) rolled back automatically", action: "rollback",
                    details: Self.figures(status).merging(["triggers": .array(triggers.map(JSONValue.string))]) { _, new in new })
                let result = try await move(
                    actor: "system:canary-monitor", tenant: tenant, id: bundle.id, .rollback, reason: reason, force: false, incident: incident)
                rollbacks(tenant: tenant, trigger: "auto").increment()
                notify(tenant: tenant, result, type: "policy.auto_rollback")
                logger.error(
                    "canary.auto_rollback",
                    metadata: [
                        "tenant": "\(tenant.slug)", "version": "\(bundle.version)", "incident": "\(result.incident?.number ?? "none")",
                        "triggers": "\(triggers.joined(separator: "; "))",
                    ])
                moved.append(result)
            } catch {
                // Someone else moved the bundle meanwhile (promoted, rolled back): nothing to do.
                if let error = error as? WardenError, error.code == .bundleImmutable || error.code == .bundleStateConflict { continue }
                if let tenant = rollingBack {
                    // The canary tripped a trigger and could not be rolled back: `PolicyRollbackFailed`.
                    Counter(label: "warden_policy_rollback_failures_total", dimensions: [("tenant", tenant.slug)]).increment()
                    logger.critical(
                        "canary.auto_rollback_failed",
                        metadata: [
                            "tenant": "\(tenant.slug)", "bundle_id": "\(bundle.id.uuidString.lowercased())", "error": "\(String(describing: error))",
                        ])
                }
                logger.warning(
                    "canary_monitor.failed", metadata: ["bundle_id": "\(bundle.id.uuidString.lowercased())", "error": "\(String(describing: error))"])
            }
        }
        return moved
    }

    /// The canary's figures for an incident.
    static func figures(_ status: CanaryStatus) -> [String: JSONValue] {
        func rate(_ value: Double?) -> JSONValue { value.map(JSONValue.double) ?? .null }
        return [
            "stage": .string(status.bundle.status.rawValue), "samples": .int(Int64(status.canary.samples)),
            "error_rate": rate(status.canary.errorRate), "deny_rate": rate(status.canary.denyRate),
            "no_match_rate": rate(status.canary.noMatchRate), "average_cost": rate(status.canary.averageCost),
            "baseline_samples": .int(Int64(status.baseline.samples)), "baseline_error_rate": rate(status.baseline.errorRate),
            "baseline_deny_rate": rate(status.baseline.denyRate), "baseline_average_cost": rate(status.baseline.averageCost),
        ]
    }

    /// What a reported incident led to.
    public struct IncidentOutcome: Sendable {
        public var incident: Incident
        public var verdict: RollbackMatrix.Verdict?
        public var rolledBack: Moved?
    }

    /// Files an incident (`POST …/incidents`). One of severity high or critical from source
    /// `policy.activate` is checked against the runbook's matrix for the active bundle: its age, and its
    /// error rate (given, or measured over its decisions of the last 15 minutes). `rollback` rolls it
    /// back at once (the previous version active again); `investigate` pages on-call through the
    /// notification URL; below the matrix, nothing happens but the record.
    public func reportIncident(
        by principal: Principal, tenant: Tenant, severity: Incident.Severity, source: String, title: String, details: [String: JSONValue],
        errorRate: Double?
    ) async throws -> IncidentOutcome {
        try principal.require(.activateBundles)
        try Tool.validate(text: source, field: "source", max: 100)
        try Tool.validate(text: title, field: "title", max: 300)
        guard !source.isEmpty, !title.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw WardenError(.missingField, "an incident needs a source and a title")
        }
        if let errorRate, !(errorRate.isFinite && (0...1).contains(errorRate)) {
            throw WardenError(.invalidField, "error_rate must be a fraction from 0 to 1")
        }
        let now = now()
        var details = details
        var verdict: RollbackMatrix.Verdict?
        var active: PolicyBundle?
        if severity >= .high, source == "policy.activate" {
            active = try await store.read { try await $0.bundles.active(tenantID: tenant.id) }
            if let bundle = active {
                let since = bundle.activatedAt ?? bundle.updatedAt
                let age = now.timeIntervalSince(since)
                var rate = errorRate
                if rate == nil {
                    let window = max(since, now.addingTimeInterval(-900))
                    let measured = try await store.read { try await $0.decisions.stats(tenantID: tenant.id, bundleID: bundle.id, since: window) }
                    rate = measured.errorRate ?? 0
                    details["measured_samples"] = .int(Int64(measured.samples))
                }
                verdict = RollbackMatrix.verdict(age: age, errorRate: rate ?? 0)
                details["bundle_version"] = .string(bundle.version.description)
                details["bundle_age_seconds"] = .int(Int64(age))
                details["error_rate"] = .double(rate ?? 0)
                details["matrix"] = .string(verdict!.rawValue)
            } else {
                details["matrix"] = .string("no active bundle")
            }
        }
        let action: String =
            switch verdict {
            case .rollback?: "rollback"
            case .investigate?: "page_on_call"
            default: "none"
            }
        let draft = IncidentDraft(severity: severity, source: source, title: title, action: action, details: details)
        if verdict == .rollback, let bundle = active {
            let moved = try await move(
                actor: principal.actor, tenant: tenant, id: bundle.id, .rollback, reason: "incident: \(title)", force: false, incident: draft)
            rollbacks(tenant: tenant, trigger: "incident").increment()
            notify(tenant: tenant, moved, type: "policy.incident_rollback")
            return IncidentOutcome(incident: moved.incident!, verdict: verdict, rolledBack: moved)
        }
        let activeID = active?.id
        let incident = try await store.write { [details] repos in
            let filed = try await repos.incidents.insert(
                Incident(
                    id: UUID.v7(at: now), tenantID: tenant.id, number: "", severity: severity, source: source, title: title, bundleID: activeID,
                    action: action, details: .object(details), createdBy: principal.actor, createdAt: now))
            try await repos.audit.append(
                AuditEvent(
                    id: UUID(), tenantID: tenant.id, actor: principal.actor, action: "incident.created", target: "incident:\(filed.number)",
                    reason: title, details: ["severity": severity.rawValue, "source": source, "action": action], createdAt: now))
            try await Notifications.enqueue(
                repos, tenant: tenant, event: "incident.created",
                data: [
                    "incident": .string(filed.number), "severity": .string(severity.rawValue), "title": .string(title), "action": .string(action),
                    "source": .string(source),
                ], summary: "incident \(filed.number) (\(severity.rawValue)): \(title)", now: now)
            return filed
        }
        if verdict == .investigate, let notifier, let url = tenant.notificationURL {
            notifier.notify(
                tenant: tenant, url: url,
                payload: .object([
                    "type": .string("policy.page_on_call"), "tenant": .string(tenant.slug), "incident": .string(incident.number),
                    "severity": .string(severity.rawValue), "title": .string(title), "details": incident.details,
                ]))
        }
        return IncidentOutcome(incident: incident, verdict: verdict, rolledBack: nil)
    }

    public func incidents(by principal: Principal, tenant: Tenant, page: PageRequest) async throws -> Page<Incident> {
        try principal.require(.readBundles)
        return try await store.read { try await $0.incidents.list(tenantID: tenant.id, page) }
    }

    /// The metric of rollbacks, by tenant and trigger (`manual`, `auto`, `incident`).
    func rollbacks(tenant: Tenant, trigger: String) -> Counter {
        Counter(label: "warden_policy_rollback_total", dimensions: [("tenant", tenant.slug), ("trigger", trigger)])
    }

    /// Posts a rollout notification to the tenant's notification URL, if it has one (in the background).
    func notify(tenant: Tenant, _ moved: Moved, type: String) {
        guard let notifier else { return }
        let url = snapshots.cached(tenantID: tenant.id)?.tenant.notificationURL ?? tenant.notificationURL
        var payload: [String: JSONValue] = [
            "type": .string(type), "tenant": .string(tenant.slug), "bundle_id": .string(moved.bundle.id.uuidString.lowercased()),
            "version": .string(moved.bundle.version.description), "status": .string(moved.bundle.status.rawValue),
            "reason": moved.bundle.rollbackReason.map(JSONValue.string) ?? .null, "at": .string(Timestamp.format(moved.bundle.updatedAt)),
        ]
        if let restored = moved.restored { payload["restored_version"] = .string(restored.version.description) }
        if let incident = moved.incident {
            payload["incident"] = .object([
                "number": .string(incident.number), "severity": .string(incident.severity.rawValue), "title": .string(incident.title),
                "details": incident.details,
            ])
        }
        notifier.notify(tenant: tenant, url: url, payload: .object(payload))
    }

    /// Where a canary stands: stage, share, time in stage, and each quality gate against the baseline
    /// over the same window (since the stage began). 409 for a bundle not in canary.
    public func canaryStatus(by principal: Principal, tenant: Tenant, id: UUID, record: Bool = false) async throws -> CanaryStatus {
        try principal.require(.readBundles)
        let bundle = try await store.read { try await Self.find(tenant: tenant, id: id, $0) }
        guard bundle.status.isCanary else {
            throw WardenError(.bundleStateConflict, "bundle \(bundle.version) is \(bundle.status.rawValue), not in canary")
        }
        let status = try await canaryStatus(of: bundle, tenant: tenant, now: now())
        if record {
            Gauge(label: "warden_bundle_canary_gate_passed", dimensions: [("tenant", tenant.slug)]).record(status.passed ? 1 : 0)
        }
        return status
    }

    func canaryStatus(of bundle: PolicyBundle, tenant: Tenant, now: Date) async throws -> CanaryStatus {
        let since = bundle.stageSince ?? bundle.updatedAt
        let stats = try await store.read { try await $0.decisions.cohortStats(tenantID: tenant.id, canaryBundleID: bundle.id, since: since) }
        let canary = stats[.canary] ?? CohortStats()
        let baseline = stats[.baseline] ?? CohortStats()
        return CanaryStatus(
            bundle: bundle, since: since, timeInStage: now.timeIntervalSince(since), minimumStageTime: minimumStageTime, canary: canary,
            baseline: baseline, gates: RolloutGates.evaluate(canary: canary, baseline: baseline, thresholds: tenant.gateThresholds ?? thresholds))
    }

    /// The transitions of a bundle, oldest first.
    public func history(by principal: Principal, tenant: Tenant, id: UUID) async throws -> (PolicyBundle, [BundleTransition]) {
        try principal.require(.readBundles)
        return try await store.read { repos in
            let bundle = try await Self.find(tenant: tenant, id: id, repos)
            return (bundle, try await repos.bundles.transitions(tenantID: tenant.id, bundleID: id))
        }
    }

    /// One lifecycle step: checked by `BundleLifecycle`, committed with its transitions, audit events
    /// and tenant event, and in force (the snapshot's deciding bundles swapped) before it returns.
    func move(
        actor principalActor: String, tenant: Tenant, id: UUID, _ action: BundleLifecycle.Action, reason: String?, force: Bool,
        onBehalfOf: String? = nil, incident: IncidentDraft? = nil
    ) async throws -> Moved {
        if let reason { try Tool.validate(text: reason, field: "reason", max: 1000) }
        let now = now()
        let read = try await store.read { try await Self.find(tenant: tenant, id: id, $0) }
        // A bundle about to decide is compiled before the transaction: one that no longer compiles
        // (say, after an engine change) never decides.
        if case .promote = action, read.status == .approved { _ = try CompiledBundle(read) }
        var gatesPass: Bool?
        if case .promote = action, read.status.isCanary, !force {
            gatesPass = try await canaryStatus(of: read, tenant: tenant, now: now).passed
        }
        let context = BundleLifecycle.Context(
            actor: principalActor, author: read.createdBy, force: force, reason: reason,
            timeInStage: now.timeIntervalSince(read.stageSince ?? read.updatedAt), minimumStageTime: minimumStageTime, gatesPass: gatesPass)
        let actor = onBehalfOf.map { "\(principalActor) (for \($0))" } ?? principalActor
        let outcome = try await store.write { repos -> (PolicyBundle, PolicyBundle?, PolicyBundle?, PolicyBundle?, [TenantEvent], Incident?) in
            var bundle = try await Self.find(tenant: tenant, id: id, repos)
            try Self.requireUnchanged(bundle, since: read)
            let from = bundle.status
            let to = try BundleLifecycle.next(from, action, context, version: bundle.version)
            var transitions: [BundleTransition] = []
            var events: [(type: String, data: [String: JSONValue])] = []
            func record(_ moved: PolicyBundle, from: BundleStatus, to: BundleStatus, reason: String?, forced: Bool = false) {
                transitions.append(
                    BundleTransition(
                        id: UUID.v7(at: now), tenantID: tenant.id, bundleID: moved.id, from: from, to: to, actor: actor, reason: reason,
                        forced: forced,
                        createdAt: now))
            }
            var restored: PolicyBundle?
            switch action {
            case .approve:
                bundle.approvedAt = now
                bundle.approvedBy = principalActor
            case .promote:
                if to.isCanary, let running = try await repos.bundles.canary(tenantID: tenant.id), running.id != bundle.id {
                    throw WardenError(
                        .bundleStateConflict,
                        "bundle \(running.version) is already in canary (\(running.status.rawValue)); promote or roll it back first")
                }
                if to == .active {
                    if let canary = try await repos.bundles.canary(tenantID: tenant.id), canary.id != bundle.id {
                        throw WardenError(
                            .bundleStateConflict, "bundle \(canary.version) is in canary; promote or roll it back before activating another bundle")
                    }
                    if var old = try await repos.bundles.active(tenantID: tenant.id) {
                        old.status = try BundleLifecycle.next(old.status, .supersede, context, version: old.version)
                        old.updatedAt = now
                        old.stageSince = now
                        try await repos.bundles.update(old)
                        record(old, from: .active, to: .archived, reason: "superseded by \(bundle.version)")
                        bundle.previousBundleID = old.id
                    }
                    bundle.activatedAt = now
                    bundle.activatedBy = principalActor
                }
            case .rollback:
                bundle.rolledBackAt = now
                bundle.rolledBackBy = onBehalfOf ?? principalActor
                bundle.rollbackReason = reason
                if from == .active, let previousID = bundle.previousBundleID,
                    var previous = try await repos.bundles.find(tenantID: tenant.id, id: previousID), previous.status == .archived,
                    previous.rolledBackAt == nil
                {
                    previous.status = try BundleLifecycle.next(previous.status, .restore, context, version: previous.version)
                    previous.updatedAt = now
                    previous.stageSince = now
                    previous.activatedAt = now
                    previous.activatedBy = actor
                    try await repos.bundles.update(previous)
                    restored = previous
                }
            case .supersede, .restore:
                break
            }
            bundle.status = to
            bundle.updatedAt = now
            bundle.stageSince = now
            try await repos.bundles.update(bundle)
            record(bundle, from: from, to: to, reason: reason, forced: force)
            if let restored {
                record(restored, from: .archived, to: .active, reason: "restored: \(bundle.version) rolled back")
            }
            for transition in transitions { try await repos.bundles.insert(transition) }
            let name: String
            switch action {
            case .approve: name = "bundle.approved"
            case .promote: name = to == .active ? "bundle.activated" : "bundle.promoted"
            case .rollback: name = "bundle.rolled_back"
            case .supersede, .restore: name = "bundle.changed"
            }
            var details = [
                "bundle_id": bundle.id.uuidString.lowercased(), "from": from.rawValue, "to": to.rawValue, "forced": force ? "true" : "false",
            ]
            if let restored { details["restored_version"] = restored.version.description }
            if let onBehalfOf { details["rolled_back_by"] = onBehalfOf }
            if case .promote = action, to == .active, let previousID = bundle.previousBundleID {
                details["previous_bundle_id"] = previousID.uuidString.lowercased()
            }
            try await repos.audit.append(
                AuditEvent(
                    id: UUID(), tenantID: tenant.id, actor: principalActor, action: name, target: "bundle:\(bundle.version)", reason: reason,
                    details: details, createdAt: now))
            var data: [String: JSONValue] = [
                "bundle_id": .string(bundle.id.uuidString.lowercased()), "version": .string(bundle.version.description),
                "from": .string(from.rawValue), "to": .string(to.rawValue), "actor": .string(actor),
            ]
            if let reason { data["reason"] = .string(reason) }
            if let restored { data["restored_version"] = .string(restored.version.description) }
            var filed: Incident?
            if let incident {
                var details = incident.details
                details["version"] = .string(bundle.version.description)
                if let restored { details["restored_version"] = .string(restored.version.description) }
                filed = try await repos.incidents.insert(
                    Incident(
                        id: UUID.v7(at: now), tenantID: tenant.id, number: "", severity: incident.severity, source: incident.source,
                        title: incident.title, bundleID: bundle.id, action: incident.action, details: .object(details), createdBy: principalActor,
                        createdAt: now))
                data["incident"] = .string(filed!.number)
                try await repos.audit.append(
                    AuditEvent(
                        id: UUID(), tenantID: tenant.id, actor: principalActor, action: "incident.created", target: "incident:\(filed!.number)",
                        reason: incident.title,
                        details: ["severity": incident.severity.rawValue, "source": incident.source, "bundle_id": bundle.id.uuidString.lowercased()],
                        createdAt: now))
            }
            events.append((name, data))
            var published: [TenantEvent] = []
            for event in events {
                let sequence = try await repos.tenants.nextEventSequence(tenantID: tenant.id)
                let tenantEvent = TenantEvent(tenantID: tenant.id, sequence: sequence, type: event.type, data: .object(event.data), createdAt: now)
                try await repos.events.insert(tenantEvent)
                published.append(tenantEvent)
            }
            let active = try await repos.bundles.active(tenantID: tenant.id)
            let canary = try await repos.bundles.canary(tenantID: tenant.id)
            return (bundle, restored, active, canary, published, filed)
        }
        let (bundle, restored, active, canary, events, filed) = outcome
        install(tenantID: tenant.id, active: active, canary: canary)
        for event in events { hub.publish(event) }
        logger.notice(
            "\(events.first?.type ?? "bundle.changed")",
            metadata: [
                "tenant": "\(tenant.slug)", "version": "\(bundle.version)", "status": "\(bundle.status.rawValue)", "actor": "\(actor)",
                "restored_version": "\(restored?.version.description ?? "none")",
            ]
        )
        return Moved(bundle: bundle, restored: restored, incident: filed)
    }

    /// Puts the tenant's deciding bundles into its snapshot, reusing the compiled ones it holds.
    func install(tenantID: UUID, active: PolicyBundle?, canary: PolicyBundle?) {
        let cached = snapshots.cached(tenantID: tenantID)
        func compiled(_ bundle: PolicyBundle) -> CompiledBundle {
            if let current = cached?.bundle, current.id == bundle.id { return current }
            if let current = cached?.canary?.bundle, current.id == bundle.id { return current }
            return SnapshotStore.compiled(bundle)
        }
        snapshots.apply(active: active.map(compiled), canary: canary.map { (compiled($0), $0.status.share) }, tenantID: tenantID)
    }

    /// Lint findings of the bundle's native rules (duplicate ids, unreachable rules, equal-priority conflicts).
    public func lint(by principal: Principal, tenant: Tenant, id: UUID) async throws -> (PolicyBundle, [NativeRules.Finding]) {
        try principal.require(.readBundles)
        let bundle = try await store.read { try await Self.find(tenant: tenant, id: id, $0) }
        return (bundle, NativeRules.lint(try NativeRules.parse(bundle.rules)))
    }

    // MARK: Helpers

    static func validate(modules: [String: String], notes: String?) throws(WardenError) {
        guard modules.count <= maximumModules else { throw WardenError(.invalidField, "a bundle holds at most \(maximumModules) modules") }
        var total = 0
        for (name, source) in modules {
            guard !name.isEmpty, name.utf8.count <= 200, !name.contains(".."), !name.hasPrefix("/") else {
                throw WardenError(.invalidField, "module name '\(name)' must be a relative path of at most 200 bytes")
            }
            total += source.utf8.count
        }
        guard total <= maximumSourceBytes else { throw WardenError(.invalidField, "a bundle's modules hold at most \(maximumSourceBytes) bytes") }
        try Tool.validate(text: notes, field: "notes", max: 4000)
    }

    /// A draft edited or activated by someone else between our read and our write is a conflict:
    /// what we compiled is not what is stored.
    static func requireUnchanged(_ current: PolicyBundle, since read: PolicyBundle) throws(WardenError) {
        guard current.status == read.status, current.updatedAt == read.updatedAt else {
            throw WardenError(
                .bundleImmutable, "bundle \(current.version) changed while this request was being handled (now \(current.status.rawValue)); try again"
            )
        }
    }

    static func find(tenant: Tenant, id: UUID, _ repos: Repositories) async throws -> PolicyBundle {
        guard let bundle = try await repos.bundles.find(tenantID: tenant.id, id: id) else {
            throw WardenError(.bundleNotFound, "bundle '\(id.uuidString.lowercased())' not found in tenant '\(tenant.slug)'")
        }
        return bundle
    }
}

/// A canary's standing, for `GET …/canary-status` and the promotion check.
public struct CanaryStatus: Sendable {
    public var bundle: PolicyBundle
    public var since: Date
    public var timeInStage: TimeInterval
    public var minimumStageTime: TimeInterval
    public var canary: CohortStats
    public var baseline: CohortStats
    public var gates: [GateResult]

    /// Every gate passes.
    public var passed: Bool { gates.allSatisfy(\.passed) }
    /// Whether an unforced promotion would be accepted now.
    public var promotable: Bool { passed && timeInStage >= minimumStageTime }
}

/// The result of a lifecycle step: the bundle, the bundle restored by a rollback, the incident filed.
public struct Moved: Sendable {
    public var bundle: PolicyBundle
    public var restored: PolicyBundle?
    public var incident: Incident?
}

/// An incident to file in the same transaction as a rollback.
struct IncidentDraft: Sendable {
    var severity: Incident.Severity
    var source: String
    var title: String
    var action: String
    var details: [String: JSONValue]
}

/// Delivers rollout notifications. Implementations return at once and deliver in the background:
/// a slow or dead receiver never holds up a rollback.
public protocol RolloutNotifier: Sendable {
    /// Queues the notification for the tenant's notification URL (if it has one) and for its
    /// notification webhooks that want the event.
    func notify(tenant: Tenant, url: String?, payload: JSONValue)
}
