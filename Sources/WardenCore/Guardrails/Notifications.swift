public import Foundation

/// A tenant's subscription to operational events (kill, restore, panic, rollback, incident, bypass):
/// each event is queued as a signed, retried webhook delivery, like approval webhooks.
public struct NotificationWebhook: Sendable, Equatable {
    public enum Format: String, Sendable, CaseIterable {
        /// The event as JSON (`type`, `tenant`, `created_at` and the event's fields).
        case warden
        /// `{"text": "…"}`, what Slack's incoming webhooks (and compatible receivers) take.
        case slack
    }

    public var id: UUID
    public var tenantID: UUID
    /// Where events are posted; never shown back (it often carries a token).
    public var url: String
    /// The events sent; empty for all of them.
    public var events: [String]
    public var format: Format
    public var createdBy: String
    public var createdAt: Date

    public init(id: UUID, tenantID: UUID, url: String, events: [String], format: Format, createdBy: String, createdAt: Date) {
        self.id = id
        self.tenantID = tenantID
        self.url = url
        self.events = events
        self.format = format
        self.createdBy = createdBy
        self.createdAt = createdAt
    }

    public func wants(_ event: String) -> Bool { events.isEmpty || events.contains(event) }
}

public protocol NotificationRepository: Sendable {
    func insert(_ webhook: NotificationWebhook) async throws
    func list(tenantID: UUID) async throws -> [NotificationWebhook]
    /// Every tenant's subscriptions (for deployment-wide events such as a policy bypass).
    func all() async throws -> [NotificationWebhook]
    func delete(tenantID: UUID, id: UUID) async throws -> Bool
}

/// The operational events, and queueing them.
public enum Notifications {
    public static let events = [
        "tool.killed", "tool.restored", "tenant.panic_enabled", "tenant.panic_disabled", "policy.rollback", "policy.auto_rollback",
        "policy.incident_rollback", "incident.created", "policy.bypass_enabled", "policy.bypass_disabled",
    ]

    /// Queues the event for each of the tenant's subscriptions that wants it, in the caller's
    /// transaction (so an event is queued if and only if its change commits). Returns how many.
    @discardableResult
    public static func enqueue(_ repos: Repositories, tenant: Tenant, event: String, data: [String: JSONValue], summary: String, now: Date)
        async throws -> Int
    {
        var queued = 0
        for webhook in try await repos.notifications.list(tenantID: tenant.id) where webhook.wants(event) {
            try await repos.webhooks.insert(delivery(webhook, tenant: tenant, event: event, data: data, summary: summary, now: now))
            queued += 1
        }
        return queued
    }

    static func delivery(_ webhook: NotificationWebhook, tenant: Tenant, event: String, data: [String: JSONValue], summary: String, now: Date)
        -> WebhookDelivery
    {
        switch webhook.format {
        case .warden:
            return WebhookDelivery.make(tenant: tenant, approvalID: nil, event: event, url: webhook.url, payload: data, now: now)
        case .slack:
            var delivery = WebhookDelivery.make(tenant: tenant, approvalID: nil, event: event, url: webhook.url, payload: [:], now: now)
            delivery.body = JSONValue.object(["text": .string("[Warden] \(tenant.slug): \(summary)")]).canonicalText
            return delivery
        }
    }
}

/// Registering and removing a tenant's notification webhooks (admins), audited.
public struct NotificationService: Sendable {
    let store: any Store
    let clock: any WallClock

    public init(store: any Store, clock: any WallClock) {
        self.store = store
        self.clock = clock
    }

    public func add(by principal: Principal, tenant: Tenant, url: String, events: [String], format: NotificationWebhook.Format) async throws
        -> NotificationWebhook
    {
        guard principal.role == .admin else { throw WardenError(.forbidden, "only an admin may register notification webhooks") }
        try Tool.validate(endpoint: url)
        if let unknown = events.first(where: { !Notifications.events.contains($0) }) {
            throw WardenError(.invalidField, "unknown event '\(unknown)' (events: \(Notifications.events.joined(separator: ", ")))")
        }
        let now = Timestamp.truncated(clock.now())
        let webhook = NotificationWebhook(
            id: UUID.v7(at: now), tenantID: tenant.id, url: url, events: Array(Set(events)).sorted(), format: format, createdBy: principal.actor,
            createdAt: now)
        try await store.write { repos in
            guard try await repos.notifications.list(tenantID: tenant.id).count < 20 else {
                throw WardenError(.invalidField, "a tenant has at most 20 notification webhooks")
            }
            try await repos.notifications.insert(webhook)
            try await repos.audit.append(
                AuditEvent(
                    id: UUID(), tenantID: tenant.id, actor: principal.actor, action: "notification_webhook.added",
                    target: "notification_webhook:\(webhook.id.uuidString.lowercased())", reason: nil,
                    details: ["events": webhook.events.isEmpty ? "all" : webhook.events.joined(separator: ","), "format": format.rawValue],
                    createdAt: now))
        }
        return webhook
    }

    public func list(by principal: Principal, tenant: Tenant) async throws -> [NotificationWebhook] {
        try principal.require(.readTenant)
        return try await store.read { try await $0.notifications.list(tenantID: tenant.id) }
    }

    public func remove(by principal: Principal, tenant: Tenant, id: UUID) async throws {
        guard principal.role == .admin else { throw WardenError(.forbidden, "only an admin may remove notification webhooks") }
        let now = Timestamp.truncated(clock.now())
        try await store.write { repos in
            guard try await repos.notifications.delete(tenantID: tenant.id, id: id) else {
                throw WardenError(.notFound, "notification webhook '\(id.uuidString.lowercased())' not found")
            }
            try await repos.audit.append(
                AuditEvent(
                    id: UUID(), tenantID: tenant.id, actor: principal.actor, action: "notification_webhook.removed",
                    target: "notification_webhook:\(id.uuidString.lowercased())", reason: nil, details: [:], createdAt: now))
        }
    }
}
