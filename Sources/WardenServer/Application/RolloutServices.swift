import AsyncHTTPClient
import Foundation
import Logging
import Metrics
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import WardenCore

/// Posts rollout notifications (automatic rollbacks, incidents) as JSON to a tenant's notification
/// URL, in the background: three attempts with growing pauses, each within 5 s; a failure is logged
/// (without the URL, which may carry a token) and counted in `warden_webhook_failures_total`.
/// Signed, dead-lettered deliveries arrive with the approvals work.
struct WebhookNotifier: RolloutNotifier {
    let client: HTTPClient
    let logger: Logger
    var pauses: [Duration] = [.milliseconds(500), .seconds(2)]

    func notify(url: String, payload: JSONValue) {
        let body = payload.canonicalBytes
        let kind: String = if case .object(let fields) = payload, case .string(let name)? = fields["type"] { name } else { "notification" }
        Task {
            for attempt in 0...pauses.count {
                if attempt > 0 { try? await Task.sleep(for: pauses[attempt - 1]) }
                do {
                    var request = HTTPClientRequest(url: url)
                    request.method = .POST
                    request.headers.add(name: "Content-Type", value: "application/json")
                    request.headers.add(name: "User-Agent", value: "warden/\(WardenVersion.current)")
                    request.body = .bytes(ByteBuffer(bytes: body))
                    let response = try await client.execute(request, timeout: .seconds(5))
                    _ = try? await response.body.collect(upTo: 64 << 10)
                    if (200..<300).contains(response.status.code) { return }
                    logger.warning(
                        "webhook.rejected", metadata: ["type": "\(kind)", "status": "\(response.status.code)", "attempt": "\(attempt + 1)"])
                } catch {
                    logger.warning("webhook.failed", metadata: ["type": "\(kind)", "attempt": "\(attempt + 1)", "error": "\(type(of: error))"])
                }
            }
            Counter(label: "warden_webhook_failures_total", dimensions: [("kind", "rollout")]).increment()
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
