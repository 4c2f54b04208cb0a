public import Foundation
public import Logging

/// Policy bundles: drafts are created and edited, then activated. Every change is committed with its
/// audit event; an activation also swaps the tenant's snapshot before it returns, so the very next
/// decision is made by the new bundle.
public struct BundleService: Sendable {
    let store: any Store
    let snapshots: SnapshotStore
    let hub: EventHub
    let clock: any WallClock
    let logger: Logger

    /// Bounds on what a bundle may hold, so a tenant cannot make the server compile without end.
    public static let maximumModules = 200
    public static let maximumSourceBytes = 1 << 20

    public init(store: any Store, snapshots: SnapshotStore, hub: EventHub, clock: any WallClock, logger: Logger) {
        self.store = store
        self.snapshots = snapshots
        self.hub = hub
        self.clock = clock
        self.logger = logger
    }

    func now() -> Date { Timestamp.truncated(clock.now()) }

    // MARK: Drafts

    public func create(by principal: Principal, tenant: Tenant, _ draft: BundleDraft) async throws -> PolicyBundle {
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
            if try await repos.bundles.versions(tenantID: tenant.id).contains(version) {
                throw WardenError(.bundleVersionExists, "bundle version \(version) already exists in tenant '\(tenant.slug)'")
            }
            try await repos.bundles.insert(bundle)
            try await repos.audit.append(
                AuditEvent(
                    id: UUID(), tenantID: tenant.id, actor: principal.actor, action: "bundle.created", target: "bundle:\(version)",
                    reason: draft.notes,
                    details: [
                        "bundle_id": bundle.id.uuidString.lowercased(), "modules": String(draft.modules.count),
                        "rules": String(draft.rules.arrayCount),
                    ],
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

    // MARK: Activation

    /// Makes the bundle the tenant's deciding bundle; the one active before is archived. Durable and
    /// in force (the snapshot swapped) before it returns.
    public func activate(by principal: Principal, tenant: Tenant, id: UUID, reason: String?) async throws -> PolicyBundle {
        try principal.require(.activateBundles)
        if let reason { try Tool.validate(text: reason, field: "reason", max: 1000) }
        let now = now()
        // Compiled once, before the transaction: a draft that no longer compiles (say, after an engine
        // change) never decides, and the compiled bundle is what the snapshot gets after the commit.
        let read = try await store.read { try await Self.find(tenant: tenant, id: id, $0) }
        switch read.status {
        case .active: throw WardenError(.bundleAlreadyActive, "bundle \(read.version) is already active")
        case .archived: throw WardenError(.bundleImmutable, "bundle \(read.version) is archived and cannot be activated again")
        case .draft: break
        }
        let compiled = try CompiledBundle(read)
        let (bundle, previous, event) = try await store.write { repos in
            var bundle = try await Self.find(tenant: tenant, id: id, repos)
            try Self.requireUnchanged(bundle, since: read)
            var previous = try await repos.bundles.active(tenantID: tenant.id)
            if var old = previous {
                old.status = .archived
                old.updatedAt = now
                try await repos.bundles.update(old)
                previous = old
            }
            bundle.status = .active
            bundle.activatedAt = now
            bundle.activatedBy = principal.actor
            bundle.updatedAt = now
            try await repos.bundles.update(bundle)
            var details = ["bundle_id": bundle.id.uuidString.lowercased()]
            if let previous { details["previous_version"] = previous.version.description }
            try await repos.audit.append(
                AuditEvent(
                    id: UUID(), tenantID: tenant.id, actor: principal.actor, action: "bundle.activated", target: "bundle:\(bundle.version)",
                    reason: reason, details: details, createdAt: now
                )
            )
            let sequence = try await repos.tenants.nextEventSequence(tenantID: tenant.id)
            var data: [String: JSONValue] = [
                "bundle_id": .string(bundle.id.uuidString.lowercased()), "version": .string(bundle.version.description),
                "actor": .string(principal.actor),
            ]
            if let previous { data["previous_version"] = .string(previous.version.description) }
            if let reason { data["reason"] = .string(reason) }
            let event = TenantEvent(tenantID: tenant.id, sequence: sequence, type: "bundle.activated", data: .object(data), createdAt: now)
            try await repos.events.insert(event)
            return (bundle, previous, event)
        }
        snapshots.apply(activeBundle: compiled, tenantID: tenant.id)
        hub.publish(event)
        logger.notice(
            "bundle.activated",
            metadata: [
                "tenant": "\(tenant.slug)", "version": "\(bundle.version)", "previous_version": "\(previous?.version.description ?? "none")",
                "actor": "\(principal.actor)",
            ]
        )
        return bundle
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
