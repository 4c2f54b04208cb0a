import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Synchronization
import Testing
import WardenCore

@testable import WardenServer

/// A live HTTP receiver: keeps every request posted to `/ok` and `/flaky` (headers and body);
/// `/flaky` answers 500 until told otherwise, `/slow` takes 3 s.
final class Receiver: Sendable {
    struct Hit: Sendable {
        var path: String
        var headers: HTTPFields
        var body: String
    }
    let hits = Mutex<[Hit]>([])
    let flakyFails = Mutex(true)

    func received(_ path: String) -> [Hit] { hits.withLock { $0.filter { $0.path == path } } }

    static func run(_ body: @escaping @Sendable (Int, Receiver) async throws -> Void) async throws {
        let receiver = Receiver()
        let router = Router()
        for path in ["/ok", "/flaky", "/slow", "/lead", "/security"] {
            router.post(RouterPath(path)) { request, _ -> HTTPResponse.Status in
                let buffer = try await request.body.collect(upTo: 1 << 20)
                receiver.hits.withLock { $0.append(Hit(path: path, headers: request.headers, body: String(buffer: buffer))) }
                if path == "/slow" { try await Task.sleep(for: .seconds(3)) }
                if path == "/flaky", receiver.flakyFails.withLock({ $0 }) { return .internalServerError }
                return .ok
            }
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in try await body(try #require(client.port), receiver) }
    }
}

/// Polls `condition` every 50 ms for up to `seconds`.
func eventually(_ seconds: Double = 10, _ condition: @Sendable () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}

@Suite struct WebhookTests {
    static func approver(_ client: some TestClientProtocol) async throws -> String {
        try #require(
            try await client.send(.post, "/v1/api-keys", json: #"{"name":"a","role":"approver","tenant":"acme"}"#).object()["key"] as? String)
    }

    /// Created and approved are both announced: signed (the tenant's secret verifies the signature),
    /// with a delivery id receivers can de-duplicate on, and the approval counts the attempts.
    /// Secret input values are never stored; pii values never leave in a webhook.
    @Test(arguments: Backend.available)
    func signedDeliveriesWithRedactedInput(_ backend: Backend) async throws {
        try await Receiver.run { port, receiver in
            try await TestApp.run(backend) { client in
                _ = try await Demo.setUp(client)
                let opened = try await client.send(
                    .post, "/v1/tenants/acme/approvals",
                    json: #"""
                        {"agent":"bot","tool":"refund","action":"create","webhook_url":"http://127.0.0.1:\#(port)/ok?token=abc",
                         "input":{"order":42,"api_key":"sk-live-123","customer":{"email":"ann@example.com"}},
                         "labels":{"input.api_key":"secret","input.customer.email":"pii"}}
                        """#)
                #expect(opened.status == .created, "\(opened.text)")
                #expect(!opened.text.contains("sk-live-123"), "a secret value is never stored or shown")
                #expect(opened.text.contains("[redacted secret hmac-sha256:"))
                #expect(opened.text.contains("ann@example.com"), "approvers see pii")
                #expect(!opened.text.contains("token=abc"), "the webhook URL is not echoed")
                let id = try #require(try opened.object()["id"] as? String)
                let approved = try await client.send(
                    .post, "/v1/tenants/acme/approvals/\(id)/approve", token: try await Self.approver(client), json: #"{"comment":"ok"}"#)
                #expect(approved.status == .ok, "\(approved.text)")
                #expect(try await eventually { receiver.received("/ok").count == 2 })
                let secret = try #require(try await client.send(.get, "/v1/tenants/acme/webhooks/secret").object()["secret"] as? String)
                #expect(secret.hasPrefix("whsec_"))
                let hits = receiver.received("/ok")
                var events: [String] = []
                for hit in hits {
                    let signature = try #require(hit.headers[HTTPField.Name("Warden-Signature")!])
                    #expect(WebhookSignature.verify(header: signature, secret: secret, body: Array(hit.body.utf8), now: Date()), "\(signature)")
                    #expect(!WebhookSignature.verify(header: signature, secret: secret, body: Array((hit.body + " ").utf8), now: Date()))
                    let payload = try #require(try JSONSerialization.jsonObject(with: Data(hit.body.utf8)) as? [String: Any])
                    #expect(payload["id"] as? String == hit.headers[HTTPField.Name("Warden-Delivery")!])
                    #expect(payload["type"] as? String == hit.headers[HTTPField.Name("Warden-Event")!])
                    events.append(try #require(payload["type"] as? String))
                    #expect(!hit.body.contains("ann@example.com") && hit.body.contains("[redacted pii]"), "\(hit.body)")
                    #expect(!hit.body.contains("sk-live-123"))
                }
                #expect(Set(events) == ["approval.created", "approval.approved"])
                // The request counts its webhook attempts and keeps the last status.
                #expect(
                    try await eventually {
                        let shown = try await client.send(.get, "/v1/tenants/acme/approvals/\(id)").object()
                        return shown["webhook_attempts"] as? Int == 2 && shown["last_webhook_status"] as? Int == 200
                    })
                let listed = try await client.send(.get, "/v1/tenants/acme/webhooks/deliveries?status=delivered").object()
                #expect((listed["counts"] as? [String: Int])?["delivered"] == 2, "\(listed)")
                #expect(!(try await client.send(.get, "/v1/tenants/acme/webhooks/deliveries").text.contains("token=abc")))
                // The secret is for admins, and reading it is audited.
                let approverKey = try await Self.approver(client)
                #expect(try await client.send(.get, "/v1/tenants/acme/webhooks/secret", token: approverKey).status == .forbidden)
                let audit = try await client.send(.get, "/v1/tenants/acme/audit-events?action=webhook.secret_read").array("items")
                #expect(audit.count == 1)
            }
        }
    }

    /// A receiver that keeps failing is retried with backoff, then dead-lettered (visible, counted);
    /// an operator retries the dead letter once the receiver is back. A slow receiver never holds
    /// up an approval.
    @Test(arguments: Backend.available)
    func failuresRetryThenDeadLetterAndRetryByHand(_ backend: Backend) async throws {
        try await Receiver.run { port, receiver in
            let settings: (inout WardenConfiguration) -> Void = {
                $0.webhookRetry = WebhookRetryPolicy(maxAttempts: 3, baseDelay: 0.05, maxDelay: 1)
            }
            let dependencies = ApplicationDependencies(registry: SharedMetrics.registry, announceGeneratedKey: { _ in })
            try await TestApp.run(backend, dependencies: dependencies, configure: settings) { client in
                _ = try await Demo.setUp(client)
                let failuresBefore = SharedMetrics.value(of: "warden_webhook_failures_total", labels: #"event="approval.created""#)
                let opened = try await client.send(
                    .post, "/v1/tenants/acme/approvals",
                    json: #"{"agent":"bot","tool":"refund","action":"create","webhook_url":"http://127.0.0.1:\#(port)/flaky"}"#)
                let id = try #require(try opened.object()["id"] as? String)
                #expect(
                    try await eventually {
                        try await client.send(.get, "/v1/tenants/acme/webhooks/deliveries?status=dead").array("items").count == 1
                    })
                #expect(receiver.received("/flaky").count == 3, "three attempts, then dead")
                let dead = try #require(try await client.send(.get, "/v1/tenants/acme/webhooks/deliveries?status=dead").array("items").first)
                #expect(dead["attempts"] as? Int == 3 && dead["last_status"] as? Int == 500 && dead["last_error"] as? String == "HTTP 500")
                #expect(dead["receiver"] as? String == "http://127.0.0.1:\(port)")
                let shown = try await client.send(.get, "/v1/tenants/acme/approvals/\(id)").object()
                #expect(shown["webhook_attempts"] as? Int == 3 && shown["last_webhook_status"] as? Int == 500)
                #expect(SharedMetrics.value(of: "warden_webhook_failures_total", labels: #"event="approval.created""#) >= failuresBefore + 3)
                // The receiver is back; an admin retries the dead letter.
                receiver.flakyFails.withLock { $0 = false }
                let deliveryID = try #require(dead["id"] as? String)
                let retried = try await client.send(.post, "/v1/tenants/acme/webhooks/deliveries/\(deliveryID)/retry")
                #expect(retried.status == .ok, "\(retried.text)")
                #expect(
                    try await eventually {
                        try await client.send(.get, "/v1/tenants/acme/webhooks/deliveries/\(deliveryID)").object()["status"] as? String
                            == "delivered"
                    })
                let again = try await client.send(.post, "/v1/tenants/acme/webhooks/deliveries/\(deliveryID)/retry")
                #expect(try again.errorCode() == "webhook_delivered")
                let hits = receiver.received("/flaky")
                #expect(Set(hits.compactMap { $0.headers[HTTPField.Name("Warden-Delivery")!] }) == [deliveryID], "one delivery id throughout")

                // A receiver that takes 3 s: the approval answers at once all the same.
                let slow = try await client.send(
                    .post, "/v1/tenants/acme/approvals",
                    json: #"{"agent":"bot","tool":"refund","action":"create","webhook_url":"http://127.0.0.1:\#(port)/slow"}"#)
                let slowID = try #require(try slow.object()["id"] as? String)
                #expect(try await eventually { receiver.received("/slow").count == 1 })
                let started = ContinuousClock.now
                let approved = try await client.send(.post, "/v1/tenants/acme/approvals/\(slowID)/approve", token: try await Self.approver(client))
                #expect(approved.status == .ok)
                #expect(ContinuousClock.now - started < .seconds(1), "the approval did not wait for the receiver")
            }
        }
    }

    /// Pausing webhooks keeps deliveries queued (none lost) until resumed; pausing escalation keeps
    /// the background pass off the tenant. Both audited and in the metrics.
    @Test(arguments: Backend.available)
    func pauseAndResumeWebhooksAndEscalation(_ backend: Backend) async throws {
        try await Receiver.run { port, receiver in
            let clock = AdjustableClock()
            let settings: (inout WardenConfiguration) -> Void = {
                $0.approvalEscalationInterval = .milliseconds(100)
                $0.approvalEscalateAfter = 600
            }
            let dependencies = ApplicationDependencies(registry: SharedMetrics.registry, clock: clock, announceGeneratedKey: { _ in })
            try await TestApp.run(backend, dependencies: dependencies, configure: settings) { client in
                _ = try await Demo.setUp(client)
                #expect(try await client.send(.post, "/v1/tenants/acme/webhooks/pause", json: #"{}"#).status == .badRequest)
                let paused = try await client.send(.post, "/v1/tenants/acme/webhooks/pause", json: #"{"reason":"receiver down"}"#)
                #expect(try paused.object()["webhooks_paused"] as? Bool == true, "\(paused.text)")
                #expect(SharedMetrics.value(of: "warden_webhooks_paused", labels: #"tenant="acme""#) == 1)
                let escalationPaused = try await client.send(.post, "/v1/tenants/acme/approvals/escalation/pause", json: #"{"reason":"storm"}"#)
                #expect(try escalationPaused.object()["escalation_paused"] as? Bool == true)
                let approverKey = try await Self.approver(client)
                #expect(
                    try await client.send(.post, "/v1/tenants/acme/webhooks/resume", token: approverKey, json: #"{"reason":"x"}"#).status
                        == .forbidden)

                let opened = try await client.send(
                    .post, "/v1/tenants/acme/approvals",
                    json: #"{"agent":"bot","tool":"refund","action":"create","webhook_url":"http://127.0.0.1:\#(port)/ok"}"#)
                let id = try #require(try opened.object()["id"] as? String)
                clock.advance(601)
                try await Task.sleep(for: .milliseconds(600))
                #expect(receiver.received("/ok").isEmpty, "paused: nothing sent")
                #expect(try await client.send(.get, "/v1/tenants/acme/approvals/\(id)").object()["status"] as? String == "pending")
                #expect(try await client.send(.get, "/v1/tenants/acme/webhooks/deliveries?status=pending").array("items").count == 1)

                // Resume escalation: the background pass escalates; resume webhooks: both events go out.
                #expect(try await client.send(.post, "/v1/tenants/acme/approvals/escalation/resume", json: #"{"reason":"calm"}"#).status == .ok)
                #expect(
                    try await eventually {
                        try await client.send(.get, "/v1/tenants/acme/approvals/\(id)").object()["status"] as? String == "escalated"
                    })
                #expect(receiver.received("/ok").isEmpty)
                #expect(try await client.send(.post, "/v1/tenants/acme/webhooks/resume", json: #"{"reason":"back"}"#).status == .ok)
                #expect(try await eventually { receiver.received("/ok").count == 2 })
                #expect(SharedMetrics.value(of: "warden_webhooks_paused", labels: #"tenant="acme""#) == 0)
                let audit = try await client.send(.get, "/v1/tenants/acme/audit-events?limit=100").array("items").compactMap {
                    $0["action"] as? String
                }
                for action in ["webhooks.paused", "webhooks.resumed", "approval.escalation_paused", "approval.escalation_resumed"] {
                    #expect(audit.contains(action), "\(action)")
                }
            }
        }
    }

    /// The tenant's ladder: each step after the level's timeout goes to the next named level, whose
    /// webhook is told; after the last step's timeout the request expires.
    @Test(arguments: Backend.available)
    func escalationLadderNotifiesEachLevel(_ backend: Backend) async throws {
        try await Receiver.run { port, receiver in
            let clock = AdjustableClock()
            let dependencies = ApplicationDependencies(clock: clock, announceGeneratedKey: { _ in })
            try await TestApp.run(backend, dependencies: dependencies) { client in
                _ = try await Demo.setUp(client)
                let ladder = #"""
                    {"approvals":{"timeouts":{"manual_approve":600},"escalation_levels":[
                      {"name":"team-lead","webhook_url":"http://127.0.0.1:\#(port)/lead"},
                      {"name":"security","webhook_url":"http://127.0.0.1:\#(port)/security"}]},"reason":"ladder"}
                    """#
                let patched = try await client.send(.patch, "/v1/tenants/acme", json: ladder)
                #expect(patched.status == .ok, "\(patched.text)")
                #expect(!patched.text.contains("/lead"), "level webhooks are not echoed")
                let bad = try await client.send(.patch, "/v1/tenants/acme", json: #"{"approvals":{"timeouts":{"auto_approve":60}}}"#)
                #expect(try bad.errorCode() == "invalid_field")

                let opened = try await client.send(.post, "/v1/tenants/acme/approvals", json: #"{"agent":"bot","tool":"refund","action":"create"}"#)
                let request = try opened.object()
                let id = try #require(request["id"] as? String)
                let created = try #require((request["created_at"] as? String).flatMap(Timestamp.parse))
                let expires = try #require((request["expires_at"] as? String).flatMap(Timestamp.parse))
                #expect(expires.timeIntervalSince(created) == 1800, "three timeouts: two steps, then expiry")
                func pass() async throws -> [String: Any] { try await client.send(.post, "/v1/tenants/acme/approvals/escalate-now").object() }
                clock.advance(601)
                #expect(try await pass()["escalated"] as? Int == 1)
                #expect(try await eventually { receiver.received("/lead").count == 1 })
                #expect(receiver.received("/security").isEmpty)
                let first = try await client.send(.get, "/v1/tenants/acme/approvals/\(id)").object()
                #expect(first["escalation_step"] as? Int == 1)
                #expect(((first["status_history"] as? [[String: Any]])?.last?["comment"] as? String)?.contains("team-lead") == true)
                clock.advance(600)
                #expect(try await pass()["escalated"] as? Int == 1)
                #expect(try await eventually { receiver.received("/security").count == 1 })
                let body = try #require(receiver.received("/security").first?.body)
                #expect(body.contains(#""type":"approval.escalated""#) && body.contains(#""escalation_step":2"#), "\(body)")
                // Nothing more to escalate; then the last timeout runs out.
                #expect(try await pass()["escalated"] as? Int == 0)
                clock.advance(600)
                #expect(try await pass()["expired"] as? Int == 1)
            }
        }
    }

    /// A request a decision opens has no webhook of its own: the tenant's approvers' channel is told.
    @Test(arguments: Backend.available)
    func decisionRequestsGoToTheApproversChannel(_ backend: Backend) async throws {
        try await Receiver.run { port, receiver in
            try await TestApp.run(backend) { client in
                let demo = try await Demo.setUp(client, approvalLevel: "manual_approve")
                let patched = try await client.send(
                    .patch, "/v1/tenants/acme", json: #"{"approvals":{"webhook_url":"http://127.0.0.1:\#(port)/ok"},"reason":"channel"}"#)
                #expect(try (patched.object()["approvals"] as? [String: Any])?["webhook_url_set"] as? Bool == true, "\(patched.text)")
                let decided = try await demo.decide(client)
                let approvalID = try #require(try decided.object()["approval_id"] as? String)
                let decisionID = try #require(try decided.object()["decision_id"] as? String)
                #expect(try await eventually { receiver.received("/ok").count == 1 })
                let body = try #require(receiver.received("/ok").first?.body)
                #expect(body.contains(#""type":"approval.created""#) && body.contains(approvalID) && body.contains(decisionID), "\(body)")
            }
        }
    }

    /// Two approvers voting on a two-person request at the same moment: both votes count (the row is
    /// locked for each vote on PostgreSQL), repeated over many requests.
    @Test(arguments: Backend.available)
    func simultaneousTwoPersonVotesBothCount(_ backend: Backend) async throws {
        try await TestApp.run(backend) { client in
            _ = try await Demo.setUp(client, approvalLevel: "two_person")
            let first = try await Self.approver(client)
            let second = try await Self.approver(client)
            for round in 0..<20 {
                let opened = try await client.send(
                    .post, "/v1/tenants/acme/approvals", json: #"{"agent":"bot","tool":"refund","action":"create","reason":"r\#(round)"}"#)
                let id = try #require(try opened.object()["id"] as? String)
                async let a = client.send(.post, "/v1/tenants/acme/approvals/\(id)/approve", token: first)
                async let b = client.send(.post, "/v1/tenants/acme/approvals/\(id)/approve", token: second)
                let (x, y) = try await (a, b)
                #expect(x.status == .ok && y.status == .ok, "\(x.text) \(y.text)")
                let shown = try await client.send(.get, "/v1/tenants/acme/approvals/\(id)").object()
                #expect(shown["status"] as? String == "approved" && (shown["approvals"] as? [String])?.count == 2, "round \(round): \(shown)")
            }
        }
    }

    /// A policy's `approval_level` obligation sets the request's level (stricter than the tool's).
    @Test(arguments: Backend.available)
    func policyObligationSetsTheApprovalLevel(_ backend: Backend) async throws {
        try await TestApp.run(backend) { client in
            let demo = try await Demo.setUp(client)
            let source = """
                package warden

                decision := {"effect": "allow", "obligations": {"approval_level": "two_person"}} if input.request.order > 100

                decision := {"effect": "allow"} if input.request.order <= 100
                """
            let created = try await client.send(.post, "/v1/tenants/acme/bundles", json: bundleJSON(version: "1.0.0", source: source))
            #expect(created.status == .created, "\(created.text)")
            let bundleID = try #require(try created.object()["id"] as? String)
            try await client.approveBundle(tenant: "acme", bundleID)
            #expect(try await client.send(.post, "/v1/tenants/acme/bundles/\(bundleID)/activate").status == .ok)
            let small = try await client.send(
                .post, "/v1/decide", token: demo.token, json: #"{"tool":"refund","action":"create","input":{"order":5}}"#)
            #expect(try small.decision().0 == "allow", "\(small.text)")
            let large = try await client.send(
                .post, "/v1/decide", token: demo.token, json: #"{"tool":"refund","action":"create","input":{"order":500}}"#)
            #expect(try large.decision().0 == "require_approval", "\(large.text)")
            let approvalID = try #require(try large.object()["approval_id"] as? String)
            let approval = try await client.send(.get, "/v1/tenants/acme/approvals/\(approvalID)").object()
            #expect(approval["level"] as? String == "two_person")
            #expect(approval["approvals_needed"] as? Int == 2)
        }
    }

    /// A long-polling agent is woken by the approval at once, not at its next poll.
    @Test(arguments: Backend.available)
    func longPollWakesOnTheDecision(_ backend: Backend) async throws {
        try await TestApp.run(backend) { client in
            let demo = try await Demo.setUp(client, approvalLevel: "manual_approve")
            let decided = try await demo.decide(client)
            let id = try #require(try decided.object()["approval_id"] as? String)
            let approver = try await Self.approver(client)
            async let approve: Void = {
                try await Task.sleep(for: .milliseconds(300))
                _ = try await client.send(.post, "/v1/tenants/acme/approvals/\(id)/approve", token: approver)
            }()
            let started = ContinuousClock.now
            let waited = try await client.send(.get, "/v1/tenants/acme/approvals/\(id)?wait=20", token: demo.token)
            let elapsed = ContinuousClock.now - started
            try await approve
            #expect(try waited.object()["status"] as? String == "approved", "\(waited.text)")
            // Woken by the approval (300 ms in), not by the end of its 20 s wait. The margin is for a
            // loaded machine: beside the whole suite it once took 1.06 s.
            #expect(elapsed < .seconds(5), "woken by the approval (\(elapsed)), not after the wait")
        }
    }
}
