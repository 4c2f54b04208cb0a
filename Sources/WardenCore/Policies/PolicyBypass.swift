public import Foundation
public import Logging
import Metrics
import Synchronization

/// The emergency bypass of the policy system (runbook: "rollback not working"): while it is on, no
/// bundle is evaluated; every decision is allowed with reason `policy_bypassed` and marked `bypass`.
/// The kill switch, capability checks and tool approval levels still apply. Turned on only by a global
/// admin sending `X-Emergency-Override: true`; both switches are critical audit events. Kept in the
/// database (`system_settings`), so it survives restarts.
public final class PolicyBypass: Sendable {
    public struct State: Sendable, Equatable {
        public var since: Date
        public var by: String
        public var reason: String
    }

    static let key = "policy_bypass"
    private let state = Mutex<State?>(nil)
    private let gauge = Gauge(label: "warden_policy_bypass_active")

    public init() {}

    /// The bypass, when on.
    public var current: State? { state.withLock { $0 } }
    public var isActive: Bool { state.withLock { $0 != nil } }

    func set(_ value: State?) {
        state.withLock { $0 = value }
        gauge.record(value == nil ? 0 : 1)
    }
}

/// Turns the bypass on and off, durably and audited.
public struct PolicySystemService: Sendable {
    let store: any Store
    let bypass: PolicyBypass
    let clock: any WallClock
    let logger: Logger

    public init(store: any Store, bypass: PolicyBypass, clock: any WallClock, logger: Logger) {
        self.store = store
        self.bypass = bypass
        self.clock = clock
        self.logger = logger
    }

    /// Reads the stored state (at start).
    public func load() async throws {
        let stored = try await store.read { try await $0.settings.get(PolicyBypass.key) }
        bypass.set(Self.state(from: stored))
    }

    public func disable(by principal: Principal, reason: String?, emergencyOverride: Bool) async throws -> PolicyBypass.State {
        guard principal.isGlobalAdmin else { throw WardenError(.forbidden, "only a global admin may bypass the policy system") }
        guard emergencyOverride else {
            throw WardenError(.forbidden, "bypassing the policy system needs the header 'X-Emergency-Override: true'")
        }
        let reason = reason?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        guard !reason.isEmpty else { throw WardenError(.missingField, "a bypass needs a reason") }
        try Tool.validate(text: reason, field: "reason", max: 1000)
        if let current = bypass.current { return current }
        let now = Timestamp.truncated(clock.now())
        let state = PolicyBypass.State(since: now, by: principal.actor, reason: reason)
        try await store.write { repos in
            try await repos.settings.set(
                PolicyBypass.key,
                .object(["enabled": .bool(true), "since": .string(Timestamp.format(now)), "by": .string(principal.actor), "reason": .string(reason)]),
                by: principal.actor, at: now)
            try await repos.audit.append(
                AuditEvent(
                    id: UUID(), tenantID: nil, actor: principal.actor, action: "policy.system_disabled", target: "policy:system", reason: reason,
                    details: ["severity": "critical", "emergency_override": "true"], createdAt: now))
            try await Self.notifyAll(
                repos, event: "policy.bypass_enabled", data: ["actor": .string(principal.actor), "reason": .string(reason)],
                summary: "POLICY SYSTEM BYPASSED: every decision allowed without policy (\(principal.actor): \(reason))", now: now)
        }
        bypass.set(state)
        logger.critical("policy.system_disabled", metadata: ["actor": "\(principal.actor)", "reason": "\(reason)"])
        return state
    }

    public func enable(by principal: Principal, reason: String?) async throws {
        guard principal.isGlobalAdmin else { throw WardenError(.forbidden, "only a global admin may end a policy bypass") }
        if let reason { try Tool.validate(text: reason, field: "reason", max: 1000) }
        guard bypass.isActive else { return }
        let now = Timestamp.truncated(clock.now())
        try await store.write { repos in
            try await repos.settings.set(PolicyBypass.key, .object(["enabled": .bool(false)]), by: principal.actor, at: now)
            try await repos.audit.append(
                AuditEvent(
                    id: UUID(), tenantID: nil, actor: principal.actor, action: "policy.system_enabled", target: "policy:system", reason: reason,
                    details: ["severity": "critical"], createdAt: now))
            try await Self.notifyAll(
                repos, event: "policy.bypass_disabled", data: ["actor": .string(principal.actor), "reason": reason.map(JSONValue.string) ?? .null],
                summary: "policy system back in force (\(principal.actor))", now: now)
        }
        bypass.set(nil)
        logger.critical("policy.system_enabled", metadata: ["actor": "\(principal.actor)"])
    }

    /// A bypass concerns every tenant: each subscription that wants the event gets it.
    static func notifyAll(_ repos: Repositories, event: String, data: [String: JSONValue], summary: String, now: Date) async throws {
        var tenants: [UUID: Tenant] = [:]
        for webhook in try await repos.notifications.all() where webhook.wants(event) {
            if tenants[webhook.tenantID] == nil { tenants[webhook.tenantID] = try await repos.tenants.find(id: webhook.tenantID) }
            guard let tenant = tenants[webhook.tenantID] else { continue }
            try await repos.webhooks.insert(Notifications.delivery(webhook, tenant: tenant, event: event, data: data, summary: summary, now: now))
        }
    }

    static func state(from stored: JSONValue?) -> PolicyBypass.State? {
        guard case .object(let fields)? = stored, fields["enabled"] == .bool(true), case .string(let since)? = fields["since"],
            let date = Timestamp.parse(since), case .string(let by)? = fields["by"], case .string(let reason)? = fields["reason"]
        else { return nil }
        return PolicyBypass.State(since: date, by: by, reason: reason)
    }
}
