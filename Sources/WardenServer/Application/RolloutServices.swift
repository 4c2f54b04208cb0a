import AsyncHTTPClient
import Foundation
import Logging
import Metrics
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import WardenCore

/// Rollout notifications (automatic rollbacks, incidents) go through the webhook queue: signed,
/// retried and dead-lettered like approval webhooks. Queuing happens in the background, so a
/// rollback never waits on it.
struct OutboxNotifier: RolloutNotifier {
    let store: any Store
    let clock: any WallClock
    let outbox: Doorbell
    let logger: Logger

    func notify(tenant: Tenant, url: String?, payload: JSONValue) {
        guard case .object(var fields) = payload else { return }
        let event: String = if case .string(let name)? = fields["type"] { name } else { "notification" }
        fields["type"] = nil
        let now = Timestamp.truncated(clock.now())
        let delivery = url.map { WebhookDelivery.make(tenant: tenant, approvalID: nil, event: event, url: $0, payload: fields, now: now) }
        let version: String = if case .string(let text)? = fields["version"] { text } else { "" }
        let reason: String = if case .string(let text)? = fields["reason"] { text } else { "" }
        let summary = "\(event): bundle \(version) rolled back\(reason.isEmpty ? "" : " (\(reason))")"
        let data = fields
        Task {
            do {
                try await store.write { repos in
                    if let delivery { try await repos.webhooks.insert(delivery) }
                    if Notifications.events.contains(event) {
                        try await Notifications.enqueue(repos, tenant: tenant, event: event, data: data, summary: summary, now: now)
                    }
                    if case .object(let incident)? = data["incident"], case .string(let number)? = incident["number"] {
                        try await Notifications.enqueue(
                            repos, tenant: tenant, event: "incident.created", data: ["incident": .object(incident)],
                            summary: "incident \(number): \(summary)", now: now)
                    }
                }
                outbox.ring()
            } catch {
                logger.error("webhook.enqueue_failed", metadata: ["type": "\(event)", "error": "\(String(describing: error))"])
            }
        }
    }
}

/// Sends queued webhook deliveries: at once when rung, and at least every second for retries.
/// Each delivery is one signed POST (`Warden-Signature`, `Warden-Delivery`, `Warden-Event`) with a
/// 5 s limit; up to 32 at a time, so a slow receiver holds up only its own deliveries, and never
/// an approval (those only queue). Failures are retried with backoff and jitter, then dead-lettered.
struct WebhookDeliveryService: Service {
    let store: any Store
    let client: HTTPClient
    let secrets: WebhookSecrets
    let outbox: Doorbell
    let clock: any WallClock
    let policy: WebhookRetryPolicy
    let logger: Logger
    var timeout: Duration = .seconds(5)
    var batch = 32

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                var claimed = 0
                do {
                    claimed = try await deliverDue()
                } catch  where !Task.isCancelled {
                    logger.warning("webhook.claim_failed", metadata: ["error": "\(String(describing: error))"])
                } catch {
                    return
                }
                if claimed < batch { await outbox.wait(upTo: .seconds(1)) }
            }
        }
    }

    /// Claims what is due and sends it; returns how many were claimed.
    func deliverDue() async throws -> Int {
        let now = Timestamp.truncated(clock.now())
        // The lease outlasts a send, so no other worker takes a delivery under way; if this process
        // dies mid-send, the delivery is sent again after the lease (at least once).
        let lease = now.addingTimeInterval(Double(timeout.components.seconds) + 30)
        let batch = self.batch
        let claimed = try await store.write { try await $0.webhooks.claimDue(now: now, leaseUntil: lease, limit: batch) }
        await withTaskGroup(of: Void.self) { group in
            for delivery in claimed { group.addTask { await deliver(delivery) } }
        }
        return claimed.count
    }

    func deliver(_ delivery: WebhookDelivery) async {
        let attempt = await send(delivery)
        let next = delivery.after(attempt, policy: policy, now: Timestamp.truncated(clock.now()), jitter: Double.random(in: 0..<1))
        let dimensions = [("event", delivery.event)]
        switch next.status {
        case .delivered:
            Counter(label: "warden_webhook_deliveries_total", dimensions: dimensions).increment()
        case .pending, .dead:
            Counter(label: "warden_webhook_failures_total", dimensions: dimensions).increment()
            logger.warning(
                "webhook.failed",
                metadata: [
                    "delivery": "\(delivery.id.uuidString.lowercased())", "event": "\(delivery.event)", "receiver": "\(delivery.host)",
                    "attempt": "\(next.attempts)", "error": "\(next.lastError ?? "")", "dead": "\(next.status == .dead)",
                ])
            if next.status == .dead { Counter(label: "warden_webhook_dead_letters_total", dimensions: dimensions).increment() }
        }
        do {
            try await store.write { repos in
                try await repos.webhooks.update(next)
                if let approvalID = delivery.approvalID {
                    try await repos.approvals.recordWebhookAttempt(id: approvalID, status: next.lastStatus ?? 0)
                }
            }
        } catch {
            // The lease runs out and the delivery is sent again: at least once.
            logger.error("webhook.record_failed", metadata: ["delivery": "\(delivery.id.uuidString.lowercased())", "error": "\(error)"])
        }
    }

    func send(_ delivery: WebhookDelivery) async -> WebhookAttempt {
        let body = Array(delivery.body.utf8)
        var request = HTTPClientRequest(url: delivery.url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "warden/\(WardenVersion.current)")
        request.headers.add(name: "Warden-Delivery", value: delivery.id.uuidString.lowercased())
        request.headers.add(name: "Warden-Event", value: delivery.event)
        request.headers.add(
            name: "Warden-Signature",
            value: WebhookSignature.header(
                secret: secrets.secret(tenantID: delivery.tenantID), timestamp: Int64(clock.now().timeIntervalSince1970), body: body))
        request.body = .bytes(ByteBuffer(bytes: body))
        do {
            let response = try await client.execute(request, timeout: .init(timeout))
            _ = try? await response.body.collect(upTo: 64 << 10)
            return .answered(Int(response.status.code))
        } catch {
            // The kind of failure only: an error's text may hold the URL, which may hold a token.
            let kind = (error as? HTTPClientError).map { "\($0)" } ?? "\(type(of: error))"
            return .failed(String(kind.replacingOccurrences(of: delivery.url, with: delivery.host).prefix(200)))
        }
    }
}

/// Runs the canary monitor every `interval` until the server shuts down.
struct CanaryMonitorService: Service {
    let bundles: BundleService
    let interval: Duration

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                if Task.isCancelled { return }
                await bundles.monitorCanaries()
            }
        }
    }
}

/// Runs the approval escalation pass every `interval` until the server shuts down.
struct EscalationService: Service {
    let approvals: ApprovalService
    let interval: Duration
    let logger: Logger

    func run() async throws {
        // The backlog gauge is there from the start, not only after the first pass.
        await approvals.recordPending()
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                if Task.isCancelled { return }
                do {
                    try await approvals.escalate()
                } catch {
                    logger.warning("approval_escalation.failed", metadata: ["error": "\(String(describing: error))"])
                }
            }
        }
    }
}

/// Signs tenants' ledger heads as they become due, every few seconds, until the server shuts down.
struct CheckpointService: Service {
    let ledger: LedgerService
    let records: Int64
    let interval: TimeInterval
    let logger: Logger

    func run() async throws {
        let pause = Duration.milliseconds(Int64(min(interval, 5) * 1000))
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: pause)
                if Task.isCancelled { return }
                do {
                    let signed = try await ledger.checkpointDue(records: records, interval: interval)
                    if signed > 0 { Counter(label: "warden_ledger_checkpoints_total").increment(by: signed) }
                } catch {
                    logger.warning("ledger_checkpoint.failed", metadata: ["error": "\(String(describing: error))"])
                }
            }
        }
    }
}
