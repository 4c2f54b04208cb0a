public import Foundation
import Metrics

/// The outcome of one attempt to send a delivery.
public enum WebhookAttempt: Sendable, Equatable {
    /// The receiver answered with this HTTP status.
    case answered(Int)
    /// No answer: refused, timed out, or the URL could not be reached (kind of failure only).
    case failed(String)

    var succeeded: Bool { if case .answered(let status) = self { (200..<300).contains(status) } else { false } }
}

extension WebhookDelivery {
    /// The delivery after an attempt: delivered on a 2xx; otherwise retried after the policy's
    /// backoff, or dead once its attempts are used up.
    public func after(_ attempt: WebhookAttempt, policy: WebhookRetryPolicy, now: Date, jitter: Double) -> WebhookDelivery {
        var next = self
        next.attempts += 1
        switch attempt {
        case .answered(let status):
            next.lastStatus = status
            next.lastError = (200..<300).contains(status) ? nil : "HTTP \(status)"
        case .failed(let kind):
            next.lastStatus = nil
            next.lastError = kind
        }
        if attempt.succeeded {
            next.status = .delivered
            next.deliveredAt = now
        } else if let delay = policy.delay(afterAttempt: next.attempts, jitter: jitter) {
            next.status = .pending
            next.nextAttemptAt = now.addingTimeInterval(delay)
        } else {
            next.status = .dead
        }
        return next
    }
}

/// Operators' view of a tenant's webhooks: the delivery queue and dead letters, retrying a dead
/// letter, and the signing secret receivers verify with.
public struct WebhookService: Sendable {
    let store: any Store
    let clock: any WallClock
    let secrets: WebhookSecrets
    let outbox: Doorbell

    public init(store: any Store, clock: any WallClock, secrets: WebhookSecrets, outbox: Doorbell) {
        self.store = store
        self.clock = clock
        self.secrets = secrets
        self.outbox = outbox
    }

    public func list(by principal: Principal, tenant: Tenant, status: WebhookDeliveryStatus?, page: PageRequest) async throws
        -> (page: Page<WebhookDelivery>, counts: [WebhookDeliveryStatus: Int])
    {
        try principal.require(.readApprovals)
        return try await store.read { repos in
            (try await repos.webhooks.list(tenantID: tenant.id, status: status, page), try await repos.webhooks.counts(tenantID: tenant.id))
        }
    }

    public func find(by principal: Principal, tenant: Tenant, id: UUID) async throws -> WebhookDelivery {
        try principal.require(.readApprovals)
        guard let delivery = try await store.read({ try await $0.webhooks.find(tenantID: tenant.id, id: id) }) else {
            throw WardenError(.deliveryNotFound, "webhook delivery '\(id.uuidString.lowercased())' not found")
        }
        return delivery
    }

    /// Sends a dead (or pending) delivery again now, with its attempts counted afresh (admins), audited.
    /// A delivered one cannot be retried (409).
    public func retry(by principal: Principal, tenant: Tenant, id: UUID) async throws -> WebhookDelivery {
        guard principal.role == .admin else { throw WardenError(.forbidden, "only an admin may retry a webhook delivery") }
        let now = Timestamp.truncated(clock.now())
        let retried = try await store.write { repos in
            guard var delivery = try await repos.webhooks.find(tenantID: tenant.id, id: id) else {
                throw WardenError(.deliveryNotFound, "webhook delivery '\(id.uuidString.lowercased())' not found")
            }
            guard delivery.status != .delivered else {
                throw WardenError(.deliveryDelivered, "webhook delivery was delivered at \(delivery.deliveredAt.map(Timestamp.format) ?? "?")")
            }
            let previous = delivery.status
            delivery.status = .pending
            delivery.attempts = 0
            delivery.nextAttemptAt = now
            try await repos.webhooks.update(delivery)
            try await repos.audit.append(
                AuditEvent(
                    id: UUID(), tenantID: tenant.id, actor: principal.actor, action: "webhook.retried",
                    target: "webhook_delivery:\(id.uuidString.lowercased())", reason: nil,
                    details: ["event": delivery.event, "previous_status": previous.rawValue], createdAt: now))
            return delivery
        }
        outbox.ring()
        return retried
    }

    /// The secret the tenant's receivers check `Warden-Signature` with (admins), audited as read.
    public func secret(by principal: Principal, tenant: Tenant) async throws -> String {
        guard principal.role == .admin else { throw WardenError(.forbidden, "only an admin may read the webhook signing secret") }
        let now = Timestamp.truncated(clock.now())
        try await store.write { repos in
            try await repos.audit.append(
                AuditEvent(
                    id: UUID(), tenantID: tenant.id, actor: principal.actor, action: "webhook.secret_read", target: "tenant:\(tenant.slug)",
                    reason: nil, details: [:], createdAt: now))
        }
        return secrets.secret(tenantID: tenant.id)
    }
}
