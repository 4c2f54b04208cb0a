public import Foundation

/// Operators' guardrails on a tenant's decisions: rate limits and panic mode. Each change is durable,
/// audited, announced on the tenant's event stream, and in force for the next decision.
public struct GuardrailService: Sendable {
    let store: any Store
    let snapshots: SnapshotStore
    let hub: EventHub
    let clock: any WallClock
    /// Called when a tenant gets a budget it did not have, to seed today's spend from the decision log.
    let budgetSet: @Sendable (UUID) async throws -> Void

    public init(
        store: any Store, snapshots: SnapshotStore, hub: EventHub, clock: any WallClock,
        budgetSet: @escaping @Sendable (UUID) async throws -> Void = { _ in }
    ) {
        self.budgetSet = budgetSet
        self.store = store
        self.snapshots = snapshots
        self.hub = hub
        self.clock = clock
    }

    /// The time panic mode is judged at (the server's clock).
    public func now() -> Date { clock.now() }

    /// Replaces the tenant's rate limits (admins, operators); `nil` or empty removes them.
    public func setLimits(by principal: Principal, tenant: Tenant, limits: TenantLimits?, reason: String) async throws -> Tenant {
        try principal.require(.operateKillSwitch)
        let reason = try Self.reason(reason)
        let limits = limits?.isEmpty == true ? nil : limits
        let hadBudget = tenant.limits?.budget != nil
        // Seeded before the limits take effect, so the first budgeted decision sees today's spend.
        if limits?.budget != nil, !hadBudget { try await budgetSet(tenant.id) }
        return try await change(tenant: tenant, by: principal, action: "tenant.limits_updated", reason: reason) { current, repos in
            current.limits = limits
            try await repos.tenants.update(limits: limits, tenantID: current.id)
            return ["limits": limits?.json ?? .null]
        }
    }

    /// Switches panic mode on (every decision of the tenant denied, `tenant_panic`, until switched
    /// off or until `expiresIn` seconds pass) or off (admins, operators). Off when it is not on: 409.
    public func setPanic(by principal: Principal, tenant: Tenant, enabled: Bool, reason: String, expiresIn: TimeInterval?) async throws -> Tenant {
        try principal.require(.operateKillSwitch)
        let reason = try Self.reason(reason)
        if let expiresIn {
            guard enabled else { throw WardenError(.invalidField, "expires_in is for enabling panic mode") }
            guard expiresIn >= 1, expiresIn <= 30 * 86_400 else { throw WardenError(.invalidField, "expires_in must be 1 to 2592000 seconds") }
        }
        let now = Timestamp.truncated(clock.now())
        return try await change(
            tenant: tenant, by: principal, action: enabled ? "tenant.panic_enabled" : "tenant.panic_disabled", reason: reason
        ) { current, repos in
            if enabled {
                current.panic = PanicState(since: now, until: expiresIn.map { now.addingTimeInterval($0) }, reason: reason, by: principal.actor)
            } else {
                guard let panic = current.panic, panic.isActive(at: now) else {
                    throw WardenError(.conflict("panic_not_enabled"), "tenant '\(current.slug)' is not in panic mode")
                }
                current.panic = nil
            }
            try await repos.tenants.update(panic: current.panic, tenantID: current.id)
            return [
                "enabled": .bool(enabled), "until": current.panic?.until.map { .string(Timestamp.format($0)) } ?? .null,
            ]
        }
    }

    static func reason(_ text: String) throws(WardenError) -> String {
        let reason = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty else { throw WardenError(.missingField, "a reason is required: say why, for the audit trail") }
        try Tool.validate(text: reason, field: "reason", max: 1000)
        return reason
    }

    /// Applies `update` to the tenant row in one transaction with its audit event and tenant event,
    /// then installs the tenant in the snapshot and tells followers.
    func change(
        tenant: Tenant, by principal: Principal, action: String, reason: String,
        _ update: @Sendable @escaping (inout Tenant, Repositories) async throws -> [String: JSONValue]
    ) async throws -> Tenant {
        let now = Timestamp.truncated(clock.now())
        let (updated, event) = try await store.write { repos in
            guard var current = try await repos.tenants.find(id: tenant.id) else {
                throw WardenError(.tenantNotFound, "tenant '\(tenant.slug)' not found")
            }
            var data = try await update(&current, repos)
            try await repos.audit.append(
                AuditEvent(
                    id: UUID(), tenantID: current.id, actor: principal.actor, action: action, target: "tenant:\(current.slug)", reason: reason,
                    details: data.compactMapValues { $0 == .null ? nil : $0.canonicalText }, createdAt: now))
            data["actor"] = .string(principal.actor)
            data["reason"] = .string(reason)
            let sequence = try await repos.tenants.nextEventSequence(tenantID: current.id)
            let event = TenantEvent(tenantID: current.id, sequence: sequence, type: action, data: .object(data), createdAt: now)
            try await repos.events.insert(event)
            if Notifications.events.contains(action) {
                try await Notifications.enqueue(
                    repos, tenant: current, event: action, data: data,
                    summary:
                        "\(action == "tenant.panic_enabled" ? "PANIC MODE ON: every decision denied" : "panic mode off") (\(principal.actor): \(reason))",
                    now: now)
            }
            return (current, event)
        }
        snapshots.apply(updated)
        hub.publish(event)
        return updated
    }
}
