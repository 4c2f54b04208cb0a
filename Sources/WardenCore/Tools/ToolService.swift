public import Foundation
public import Logging
import Metrics
import Tracing

/// What a caller supplies to register a tool.
public struct ToolDraft: Sendable {
    public var name: String
    public var description: String
    public var risk: Risk
    public var capabilities: [String]
    public var approvalLevel: ApprovalLevel
    public var endpoint: String?
    public var compensation: String?

    public init(
        name: String, description: String, risk: Risk, capabilities: [String], approvalLevel: ApprovalLevel, endpoint: String?,
        compensation: String?
    ) {
        self.name = name
        self.description = description
        self.risk = risk
        self.capabilities = capabilities
        self.approvalLevel = approvalLevel
        self.endpoint = endpoint
        self.compensation = compensation
    }
}

/// A partial update; `nil` leaves a field as it is, `.some(nil)` clears an optional one.
public struct ToolPatch: Sendable {
    public var description: String?
    public var risk: Risk?
    public var capabilities: [String]?
    public var approvalLevel: ApprovalLevel?
    public var endpoint: String??
    public var compensation: String??

    public init(
        description: String? = nil, risk: Risk? = nil, capabilities: [String]? = nil, approvalLevel: ApprovalLevel? = nil,
        endpoint: String?? = nil, compensation: String?? = nil
    ) {
        self.description = description
        self.risk = risk
        self.capabilities = capabilities
        self.approvalLevel = approvalLevel
        self.endpoint = endpoint
        self.compensation = compensation
    }
}

/// The tool registry and the kill switch. Every change is committed with its audit event and its
/// tenant event, then the tenant's snapshot is rebuilt before the call returns, so the very next
/// decision sees it; then followers of the event stream are told.
public struct ToolService: Sendable {
    let store: any Store
    let snapshots: SnapshotStore
    let hub: EventHub
    let clock: any WallClock
    let logger: Logger
    private let killEvents: Counter
    private let restoreEvents: Counter

    /// Spans `warden.tool.kill` and `warden.tool.restore`.
    let telemetry: Telemetry

    public init(store: any Store, snapshots: SnapshotStore, hub: EventHub, clock: any WallClock, logger: Logger, telemetry: Telemetry = .off) {
        self.telemetry = telemetry
        self.store = store
        self.snapshots = snapshots
        self.hub = hub
        self.clock = clock
        self.logger = logger
        self.killEvents = Counter(label: "warden_kill_switch_events_total", dimensions: [("event", "disabled")])
        self.restoreEvents = Counter(label: "warden_kill_switch_events_total", dimensions: [("event", "restored")])
    }

    func now() -> Date { Timestamp.truncated(clock.now()) }

    // MARK: Registry

    public func register(by principal: Principal, tenant: Tenant, _ draft: ToolDraft, reason: String?) async throws -> Tool {
        try principal.require(.manageTools)
        try Tool.validate(identifier: draft.name, field: "name")
        try Tool.validate(text: draft.description, field: "description", max: 2000)
        try Tool.validate(capabilities: draft.capabilities)
        try Tool.validate(endpoint: draft.endpoint)
        try Tool.validate(text: draft.compensation, field: "compensation", max: 200)
        let now = now()
        let tool = Tool(
            id: UUID(), tenantID: tenant.id, name: draft.name, description: draft.description, risk: draft.risk,
            capabilities: draft.capabilities, approvalLevel: draft.approvalLevel, endpoint: draft.endpoint, compensation: draft.compensation,
            createdAt: now, updatedAt: now
        )
        let event = try await store.write { repos in
            if try await repos.tools.find(tenantID: tenant.id, name: draft.name) != nil {
                throw WardenError(.toolExists, "tool '\(draft.name)' already exists in tenant '\(tenant.slug)'")
            }
            try await repos.tools.insert(tool)
            try await repos.audit.append(
                AuditEvent(
                    id: UUID(), tenantID: tenant.id, actor: principal.actor, action: "tool.registered", target: "tool:\(tool.name)",
                    reason: reason, details: ["risk": tool.risk.rawValue, "approval_level": tool.approvalLevel.rawValue], createdAt: now
                )
            )
            return try await Self.appendEvent(type: "tool.registered", tool: tool, actor: principal.actor, reason: reason, at: now, repos)
        }
        publish(event, tool: tool)
        return tool
    }

    public func update(by principal: Principal, tenant: Tenant, name: String, _ patch: ToolPatch, reason: String?) async throws -> Tool {
        try principal.require(.manageTools)
        if let description = patch.description { try Tool.validate(text: description, field: "description", max: 2000) }
        if let capabilities = patch.capabilities { try Tool.validate(capabilities: capabilities) }
        if let endpoint = patch.endpoint { try Tool.validate(endpoint: endpoint) }
        if let compensation = patch.compensation { try Tool.validate(text: compensation, field: "compensation", max: 200) }
        let now = now()
        let (tool, event) = try await store.write { repos in
            var tool = try await Self.find(tenant: tenant, name: name, repos)
            var changes = FieldChanges()
            changes.apply(patch.description, to: &tool.description, field: "description")
            changes.apply(patch.risk, to: &tool.risk, field: "risk")
            changes.apply(patch.capabilities, to: &tool.capabilities, field: "capabilities")
            changes.apply(patch.approvalLevel, to: &tool.approvalLevel, field: "approval_level")
            changes.apply(patch.endpoint, to: &tool.endpoint, field: "endpoint")
            changes.apply(patch.compensation, to: &tool.compensation, field: "compensation")
            let changed = changes.names
            guard !changed.isEmpty else { return (tool, TenantEvent?.none) }
            tool.updatedAt = now
            try await repos.tools.update(tool)
            try await repos.audit.append(
                AuditEvent(
                    id: UUID(), tenantID: tenant.id, actor: principal.actor, action: "tool.updated", target: "tool:\(tool.name)",
                    reason: reason, details: ["fields": changed.joined(separator: ",")], createdAt: now
                )
            )
            let event = try await Self.appendEvent(type: "tool.updated", tool: tool, actor: principal.actor, reason: reason, at: now, repos)
            return (tool, Optional(event))
        }
        if let event { publish(event, tool: tool) }
        return tool
    }

    public func list(by caller: Principal, tenant: Tenant, page: PageRequest) async throws -> Page<Tool> {
        try caller.require(.readTools)
        return try await store.read { try await $0.tools.list(tenantID: tenant.id, page) }
    }

    /// The tool with every adapter acknowledgement.
    public func get(tenant: Tenant, name: String) async throws -> (Tool, [AdapterAck]) {
        try await store.read { repos in
            let tool = try await Self.find(tenant: tenant, name: name, repos)
            return (tool, try await repos.tools.acks(toolID: tool.id))
        }
    }

    public func acks(for tools: [Tool]) async throws -> [UUID: [AdapterAck]] {
        guard !tools.isEmpty else { return [:] }
        let ids = tools.map(\.id)
        return try await store.read { try await $0.tools.acks(toolIDs: ids) }
    }

    // MARK: Kill switch

    /// Kills (`active: false`) or restores a tool. Durable and in force before it returns.
    public func setActive(_ active: Bool, by principal: Principal, tenant: Tenant, name: String, reason: String) async throws -> Tool {
        try await telemetry.span(active ? "warden.tool.restore" : "warden.tool.kill") { span in
            span.attributes["warden.tenant"] = tenant.slug
            span.attributes["warden.tool"] = name
            let tool = try await setActiveTraced(active, by: principal, tenant: tenant, name: name, reason: reason)
            span.attributes["warden.tool_state_version"] = tool.stateVersion
            return tool
        }
    }

    private func setActiveTraced(_ active: Bool, by principal: Principal, tenant: Tenant, name: String, reason: String) async throws -> Tool {
        try principal.require(.operateKillSwitch)
        let trimmed = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw WardenError(.missingField, "reason must not be empty: say why, for the audit trail") }
        try Tool.validate(text: reason, field: "reason", max: 1000)
        let now = now()
        let action = active ? "tool.restored" : "tool.killed"
        let (tool, event) = try await store.write { repos in
            var tool = try await Self.find(tenant: tenant, name: name, repos)
            guard tool.isActive != active else {
                throw active
                    ? WardenError(.toolAlreadyActive, "tool '\(name)' is already active")
                    : WardenError(.toolAlreadyDisabled, "tool '\(name)' is already disabled")
            }
            tool.isActive = active
            tool.stateVersion += 1
            tool.stateReason = reason
            tool.stateChangedAt = now
            tool.stateChangedBy = principal.actor
            tool.updatedAt = now
            try await repos.tools.update(tool)
            try await repos.audit.append(
                AuditEvent(
                    id: UUID(), tenantID: tenant.id, actor: principal.actor, action: action, target: "tool:\(tool.name)",
                    reason: reason, details: ["state_version": String(tool.stateVersion)], createdAt: now
                )
            )
            let event = try await Self.appendEvent(type: action, tool: tool, actor: principal.actor, reason: reason, at: now, repos)
            try await Notifications.enqueue(
                repos, tenant: tenant, event: action,
                data: [
                    "tool": .string(tool.name), "is_active": .bool(active), "state_version": .int(Int64(tool.stateVersion)),
                    "actor": .string(principal.actor), "reason": .string(reason),
                ],
                summary: "tool '\(tool.name)' \(active ? "restored" : "killed") by \(principal.actor): \(reason)", now: now)
            return (tool, event)
        }
        publish(event, tool: tool)
        (active ? restoreEvents : killEvents).increment()
        logger.notice(
            active ? "kill_switch.restored" : "kill_switch.disabled",
            metadata: [
                "tenant": "\(tenant.slug)", "tool": "\(tool.name)", "state_version": "\(tool.stateVersion)", "actor": "\(principal.actor)",
                "reason": "\(reason)",
            ]
        )
        return tool
    }

    // MARK: Adapter acknowledgements

    /// Records that `adapterID` applied the tool's state `stateVersion`.
    public func acknowledge(tenant: Tenant, name: String, adapterID: String, stateVersion: Int) async throws -> AdapterAck {
        try Tool.validate(identifier: adapterID, field: "adapter_id")
        let now = now()
        return try await store.write { repos in
            let tool = try await Self.find(tenant: tenant, name: name, repos)
            guard stateVersion >= 1, stateVersion <= tool.stateVersion else {
                throw WardenError(
                    .invalidField, "state_version \(stateVersion) is not a state of tool '\(name)' (current: \(tool.stateVersion))"
                )
            }
            let ack = AdapterAck(toolID: tool.id, adapterID: adapterID, stateVersion: stateVersion, acknowledgedAt: now)
            try await repos.tools.upsert(ack)
            return ack
        }
    }

    // MARK: Helpers

    static func find(tenant: Tenant, name: String, _ repos: Repositories) async throws -> Tool {
        guard let tool = try await repos.tools.find(tenantID: tenant.id, name: name) else {
            throw WardenError(.toolNotFound, "tool '\(name)' not found in tenant '\(tenant.slug)'")
        }
        return tool
    }

    static func appendEvent(
        type: String, tool: Tool, actor: String, reason: String?, at now: Date, _ repos: Repositories
    ) async throws -> TenantEvent {
        let sequence = try await repos.tenants.nextEventSequence(tenantID: tool.tenantID)
        var data: [String: JSONValue] = [
            "tool": .string(tool.name), "is_active": .bool(tool.isActive), "state_version": .int(Int64(tool.stateVersion)),
            "actor": .string(actor),
        ]
        if let reason { data["reason"] = .string(reason) }
        let event = TenantEvent(tenantID: tool.tenantID, sequence: sequence, type: type, data: .object(data), createdAt: now)
        try await repos.events.insert(event)
        return event
    }

    /// Puts the committed tool into the snapshot (no database read, so it cannot fail), then tells followers.
    private func publish(_ event: TenantEvent, tool: Tool) {
        snapshots.apply(tool)
        hub.publish(event)
    }
}
