import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Synchronization
import Testing
import WardenCore
import WardenStore

@testable import WardenServer

/// Rate limits (429 with Retry-After, a logged `rate_limited` deny, the metric), panic mode and
/// cancelled runs: guardrails checked before any policy.
@Suite struct GuardrailTests {
    static func operatorKey(_ client: some TestClientProtocol, tenant: String = "acme") async throws -> String {
        try #require(
            try await client.send(.post, "/v1/api-keys", json: #"{"name":"op","role":"operator","tenant":"\#(tenant)"}"#).object()["key"] as? String)
    }

    @Test(arguments: Backend.available)
    func rateLimitsThrottleOneAgentAndLeaveOthersAlone(_ backend: Backend) async throws {
        let clock = AdjustableClock()
        let dependencies = ApplicationDependencies(clock: clock, announceGeneratedKey: { _ in })
        try await TestApp.run(backend, dependencies: dependencies) { client in
            let demo = try await Demo.setUp(client)
            _ = try await client.send(.post, "/v1/tenants/acme/agents", json: #"{"agent_id":"other","roles":[]}"#)
            let op = try await Self.operatorKey(client)
            let approver = try await WebhookTests.approver(client)
            let body = #"{"agent":{"rate":0.5,"burst":2},"agents":{"other":{"rate":100,"burst":100}},"reason":"runaway bot"}"#
            #expect(try await client.send(.put, "/v1/tenants/acme/limits", token: approver, json: body).status == .forbidden)
            #expect(
                try await client.send(.put, "/v1/tenants/acme/limits", token: op, json: #"{"agent":{"rate":0},"reason":"x"}"#).errorCode()
                    == "invalid_field")
            #expect(
                try await client.send(.put, "/v1/tenants/acme/limits", token: op, json: #"{"agents":{"bot":5},"reason":"x"}"#).errorCode()
                    == "invalid_field")
            #expect(
                try await client.send(.put, "/v1/tenants/acme/limits", token: op, json: #"{"bogus":{},"reason":"x"}"#).errorCode() == "invalid_field")
            #expect(try await client.send(.put, "/v1/tenants/acme/limits", token: op, json: #"{"agent":{"rate":1}}"#).errorCode() == "missing_field")
            let set = try await client.send(.put, "/v1/tenants/acme/limits", token: op, json: body)
            #expect(set.status == .ok, "\(set.text)")
            #expect(((try set.object()["agent"] as? [String: Any])?["burst"] as? Double) == 2)

            // The burst of two, then 429 with Retry-After, a logged deny and the metric.
            let before = SharedMetrics.value(of: "warden_rate_limit_hits_total", labels: #"tenant="acme""#)
            #expect(try await demo.decide(client).status == .ok)
            #expect(try await demo.decide(client).status == .ok)
            let limited = try await demo.decide(client)
            #expect(limited.status == .tooManyRequests, "\(limited.text)")
            let retryAfter = try #require(limited.headers[.retryAfter].flatMap { Int($0) })
            #expect(retryAfter >= 1 && retryAfter <= 2, "one token at 0.5/s: at most 2 s")
            #expect(try limited.decision() == ("deny", ["rate_limited"]))
            let decisionID = try #require(try limited.object()["decision_id"] as? String)
            #expect(try await client.send(.get, "/v1/tenants/acme/decisions/\(decisionID)").object()["effect"] as? String == "deny")
            // At least one: the other database's run of this test counts under the same slug at the same time.
            #expect(SharedMetrics.value(of: "warden_rate_limit_hits_total", labels: #"tenant="acme""#) >= before + 1)
            // Another agent of the tenant is not slowed by it; an API key deciding for it neither.
            let other = try await client.send(
                .post, "/v1/decide", json: #"{"tenant":"acme","agent":"other","tool":"refund","action":"create","input":{}}"#)
            #expect(other.status == .ok, "\(other.text)")
            // Two seconds later the bucket holds a token again.
            clock.advance(2.1)
            #expect(try await demo.decide(client).status == .ok)
            #expect(try await demo.decide(client).status == .tooManyRequests)

            // A tenant-wide bucket and a tool's bucket count every agent.
            let shared = #"{"tool":{"rate":0.1,"burst":1},"reason":"tool budget"}"#
            #expect(try await client.send(.put, "/v1/tenants/acme/limits", token: op, json: shared).status == .ok)
            let bot = try await demo.decide(client)
            #expect(bot.status == .ok, "the agent's own limit is gone with the replaced set: \(bot.text)")
            let second = try await client.send(
                .post, "/v1/decide", json: #"{"tenant":"acme","agent":"other","tool":"refund","action":"create","input":{}}"#)
            #expect(second.status == .tooManyRequests, "the tool's one token was spent by the other agent")
            // Removing the limits; audited each time.
            #expect(try await client.send(.put, "/v1/tenants/acme/limits", token: op, json: #"{"reason":"calm"}"#).status == .ok)
            let limits = try await client.send(.get, "/v1/tenants/acme/limits", token: approver).object()
            #expect(limits["tool"] is NSNull && (limits["agents"] as? [String: Any])?.isEmpty == true)
            #expect(try await client.send(.get, "/v1/tenants/acme").object()["limits"] == nil)
            let audit = try await client.send(.get, "/v1/tenants/acme/audit-events?action=tenant.limits_updated").array("items")
            #expect(audit.count == 3)
        }
    }

    @Test(arguments: Backend.available)
    func panicModeDeniesEverythingUntilOffOrExpired(_ backend: Backend) async throws {
        let clock = AdjustableClock()
        let dependencies = ApplicationDependencies(clock: clock, announceGeneratedKey: { _ in })
        try await TestApp.run(backend, dependencies: dependencies, mode: .live) { client in
            let demo = try await Demo.setUp(client)
            let op = try await Self.operatorKey(client)
            let port = try #require(client.port)
            let stream = try await EventStreamReader.open(port: port, token: demo.token, lastEventID: 1)
            #expect(try await client.send(.post, "/v1/tenants/acme/panic", token: op, json: #"{"enabled":true}"#).errorCode() == "missing_field")
            #expect(
                try await client.send(.post, "/v1/tenants/acme/panic", token: demo.token, json: #"{"enabled":true,"reason":"x"}"#).status
                    == .forbidden)
            let on = try await client.send(.post, "/v1/tenants/acme/panic", token: op, json: #"{"enabled":true,"reason":"INC-9: exfiltration"}"#)
            #expect(on.status == .ok, "\(on.text)")
            #expect(try on.object()["enabled"] as? Bool == true)
            let event = try await stream.next(event: "tenant.panic_enabled")
            #expect(event.data.contains("INC-9"))
            await stream.close()
            #expect(try await demo.decide(client).decision() == ("deny", ["tenant_panic"]))
            #expect(try await client.send(.get, "/v1/tenants/acme").object()["panic"] as? [String: Any] != nil)

            #expect(try await client.send(.post, "/v1/tenants/acme/panic", token: op, json: #"{"enabled":false,"reason":"contained"}"#).status == .ok)
            #expect(try await demo.decide(client).decision().0 == "allow")
            #expect(
                try await client.send(.post, "/v1/tenants/acme/panic", token: op, json: #"{"enabled":false,"reason":"again"}"#).errorCode()
                    == "panic_not_enabled")

            // With an expiry it ends by itself.
            let timed = try await client.send(
                .post, "/v1/tenants/acme/panic", token: op, json: #"{"enabled":true,"reason":"drill","expires_in":60}"#)
            #expect(try timed.object()["until"] as? String != nil)
            #expect(try await demo.decide(client).decision().1 == ["tenant_panic"])
            clock.advance(61)
            #expect(try await demo.decide(client).decision().0 == "allow")
            #expect(try await client.send(.get, "/v1/tenants/acme/panic").object()["enabled"] as? Bool == false)
            #expect(
                try await client.send(.post, "/v1/tenants/acme/panic", token: op, json: #"{"enabled":true,"reason":"x","expires_in":0}"#)
                    .errorCode() == "invalid_field")
            let audit = try await client.send(.get, "/v1/tenants/acme/audit-events").array("items").compactMap { $0["action"] as? String }
            #expect(audit.filter { $0.hasPrefix("tenant.panic_") }.count == 3, "\(audit)")
        }
    }

    @Test(arguments: Backend.available)
    func aCancelledRunsLaterDecisionsAreDenied(_ backend: Backend) async throws {
        try await TestApp.run(backend) { client in
            let demo = try await Demo.setUp(client)
            func run() async throws -> String {
                try #require(
                    try await client.send(.post, "/v1/tenants/acme/runs", token: demo.token, json: #"{"goal":"g"}"#).object()["id"] as? String)
            }
            let (cancelled, other) = (try await run(), try await run())
            #expect(try await demo.decide(client, extra: #","run_id":"\#(cancelled)""#).decision().0 == "allow")
            #expect(try await client.send(.post, "/v1/tenants/acme/runs/\(cancelled)/cancel", json: #"{"reason":"runaway"}"#).status == .ok)
            #expect(try await demo.decide(client, extra: #","run_id":"\#(cancelled)""#).decision() == ("deny", ["run_cancelled"]))
            #expect(try await demo.decide(client, extra: #","run_id":"\#(cancelled.uppercased())""#).decision().1 == ["run_cancelled"])
            #expect(try await demo.decide(client, extra: #","run_id":"\#(other)""#).decision().0 == "allow")
            // A completed run is not a cancelled one.
            #expect(try await client.send(.post, "/v1/tenants/acme/runs/\(other)/complete", token: demo.token).status == .ok)
            #expect(try await demo.decide(client, extra: #","run_id":"\#(other)""#).decision().0 == "allow")
        }
    }

    /// Daily cost budgets per tenant and per agent: a decision whose cost would overrun one is denied
    /// (`budget_exceeded`, counted); denied decisions spend nothing; a restarted server starts from
    /// what the decision log says was spent today.
    @Test(arguments: Backend.available)
    func budgetsDenyWhatWouldOverrunThem(_ backend: Backend) async throws {
        let box = ProvenanceTests.URLBox()
        let capture: (inout WardenConfiguration) -> Void = { configuration in box.url.withLock { $0 = configuration.databaseURL } }
        try await TestApp.run(backend, configure: capture) { client in
            let demo = try await Demo.setUp(client)
            _ = try await client.send(.post, "/v1/tenants/acme/agents", json: #"{"agent_id":"other","roles":[]}"#)
            #expect(
                try await client.send(.put, "/v1/tenants/acme/limits", json: #"{"budget":{"tenant_daily":-1},"reason":"x"}"#).errorCode()
                    == "invalid_field")
            // Spent before any budget: a budget set later counts it (seeded from the decision log).
            let early = try await client.send(
                .post, "/v1/decide", json: #"{"tenant":"acme","agent":"bot","tool":"refund","action":"create","input":{},"cost":3}"#)
            #expect(try early.decision().0 == "allow")
            let set = try await client.send(
                .put, "/v1/tenants/acme/limits", json: #"{"budget":{"tenant_daily":10,"agent_daily":4,"agents":{"other":100}},"reason":"cost cap"}"#)
            #expect(set.status == .ok, "\(set.text)")
            func decide(_ agent: String, cost: Double) async throws -> (String, [String]) {
                try await client.send(
                    .post, "/v1/decide", json: #"{"tenant":"acme","agent":"\#(agent)","tool":"refund","action":"create","input":{},"cost":\#(cost)}"#
                ).decision()
            }
            let before = SharedMetrics.value(of: "warden_budget_rejections_total", labels: #"tenant="acme""#)
            #expect(try await decide("bot", cost: 2) == ("deny", ["budget_exceeded"]), "the 3 spent before + 2 is over the agent's 4")
            #expect(try await decide("bot", cost: 1).0 == "allow", "exactly 4: within")
            #expect(try await decide("other", cost: 5).0 == "allow", "its own 100; the tenant is at 9")
            #expect(try await decide("other", cost: 2).1 == ["budget_exceeded"], "the tenant's 10")
            #expect(try await decide("other", cost: 1).0 == "allow")
            #expect(SharedMetrics.value(of: "warden_budget_rejections_total", labels: #"tenant="acme""#) >= before + 2)
            #expect(SharedMetrics.value(of: "warden_budget_used_ratio", labels: #"tenant="acme""#) == 1.0, "10 of 10 spent")
            _ = demo

            // A second server on the same database starts from today's spend in the decision log.
            let captured = box.url.withLock { $0 }
            let url = try #require(captured)
            var logger = Logger(label: "warden.test.second")
            logger.logLevel = .warning
            let second = try await buildApplication(
                TestApp.configuration(databaseURL: url), logger: logger, dependencies: ApplicationDependencies(announceGeneratedKey: { _ in }))
            try await second.test(.router) { restarted in
                let answer = try await restarted.send(
                    .post, "/v1/decide", json: #"{"tenant":"acme","agent":"other","tool":"refund","action":"create","input":{},"cost":0.5}"#)
                #expect(try answer.decision() == ("deny", ["budget_exceeded"]), "the tenant spent 10 today")
            }
        }
    }

    /// Isolation: one agent of tenant A sends 300 decisions at once with no backoff and is throttled
    /// by its limit, while tenant B's decisions sent at the same time are all allowed.
    @Test(arguments: Backend.available)
    func aRunawayAgentIsThrottledWhileAnotherTenantIsNot(_ backend: Backend) async throws {
        try await TestApp.run(backend) { client in
            // Tenant beta's agent runs away (beta, so that the other tests' counts of acme's rate-limit
            // hits stay their own); acme's agent decides calmly meanwhile.
            let demo = try await Demo.setUp(client)
            _ = try await client.send(.post, "/v1/tenants", json: #"{"slug":"beta","default_effect":"allow"}"#)
            _ = try await client.send(.post, "/v1/tenants/beta/agents", json: #"{"agent_id":"loop","roles":[]}"#)
            _ = try await client.send(.post, "/v1/tenants/beta/tools", json: #"{"name":"search","risk":"low","capabilities":["query"]}"#)
            let loop = try #require(
                try await client.send(.post, "/v1/tenants/beta/agents/loop/tokens", json: #"{"ttl_seconds":600}"#).object()["token"] as? String)
            #expect(
                try await client.send(.put, "/v1/tenants/beta/limits", json: #"{"agent":{"rate":20,"burst":20},"reason":"runaway"}"#).status == .ok)
            let (runaway, quiet) = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
                for index in 0..<330 {
                    if index % 11 == 10 {
                        group.addTask {
                            let answer = try await demo.decide(client)
                            return (1, answer.status == .ok && (try? answer.decision().0) == "allow" ? 1 : 0)
                        }
                    } else {
                        group.addTask {
                            let answer = try await client.send(
                                .post, "/v1/decide", token: loop, json: #"{"tool":"search","action":"query","input":{}}"#)
                            return (0, answer.status == .tooManyRequests ? 1 : 0)
                        }
                    }
                }
                var runaway = 0
                var quiet = 0
                for try await (who, hit) in group { if who == 0 { runaway += hit } else { quiet += hit } }
                return (runaway, quiet)
            }
            #expect(runaway >= 200, "the burst of 20 and what refills at 20/s meanwhile pass, the rest is throttled: \(runaway)")
            #expect(quiet == 30, "every one of acme's 30 decisions allowed")
        }
    }
}

/// Notification webhooks for operational events: signed deliveries in Warden's format or Slack's,
/// only the events asked for, the URL never shown; adding and removing are admin-only and audited.
@Suite struct NotificationWebhookTests {
    @Test(arguments: Backend.available)
    func operationalEventsReachTheirWebhooks(_ backend: Backend) async throws {
        try await Receiver.run { port, receiver in
            try await TestApp.run(backend) { client in
                _ = try await Demo.setUp(client)
                let approver = try await WebhookTests.approver(client)
                let warden = #"{"url":"http://127.0.0.1:\#(port)/ok?token=abc","events":["tool.killed","tenant.panic_enabled"]}"#
                #expect(try await client.send(.post, "/v1/tenants/acme/notifications", token: approver, json: warden).status == .forbidden)
                #expect(
                    try await client.send(.post, "/v1/tenants/acme/notifications", json: #"{"url":"http://x/","events":["tool.exploded"]}"#)
                        .errorCode() == "invalid_field")
                #expect(try await client.send(.post, "/v1/tenants/acme/notifications", json: #"{"url":"ftp://x/"}"#).errorCode() == "invalid_field")
                let added = try await client.send(.post, "/v1/tenants/acme/notifications", json: warden)
                #expect(added.status == .created, "\(added.text)")
                #expect(!added.text.contains("token=abc") && added.text.contains("127.0.0.1"))
                let slack = try await client.send(
                    .post, "/v1/tenants/acme/notifications", json: #"{"url":"http://127.0.0.1:\#(port)/lead","format":"slack"}"#)
                let slackID = try #require(try slack.object()["id"] as? String)

                #expect(try await client.send(.post, "/v1/tenants/acme/tools/refund/kill", json: #"{"reason":"INC-7"}"#).status == .ok)
                #expect(try await eventually { receiver.received("/ok").count == 1 && receiver.received("/lead").count == 1 })
                let killed = try #require(receiver.received("/ok").first)
                #expect(killed.body.contains(#""type":"tool.killed""#) && killed.body.contains(#""reason":"INC-7""#), "\(killed.body)")
                #expect(killed.headers[HTTPField.Name("Warden-Signature")!]?.hasPrefix("t=") == true)
                #expect(killed.headers[HTTPField.Name("Warden-Event")!] == "tool.killed")
                let slackBody = try #require(receiver.received("/lead").first?.body)
                let text = try #require(
                    (try JSONSerialization.jsonObject(with: Data(slackBody.utf8)) as? [String: Any]).flatMap { $0["text"] as? String })
                #expect(text.contains("acme") && text.contains("refund") && text.contains("killed"), "\(slackBody)")
                #expect((try JSONSerialization.jsonObject(with: Data(slackBody.utf8)) as? [String: Any])?.count == 1, "only text")

                // Restored: the Slack hook takes every event, the other only the two it named.
                #expect(try await client.send(.post, "/v1/tenants/acme/tools/refund/restore", json: #"{"reason":"fixed"}"#).status == .ok)
                #expect(try await client.send(.post, "/v1/tenants/acme/panic", json: #"{"enabled":true,"reason":"INC-8"}"#).status == .ok)
                #expect(try await eventually { receiver.received("/ok").count == 2 && receiver.received("/lead").count == 3 })
                #expect(receiver.received("/ok").last?.body.contains("tenant.panic_enabled") == true)
                #expect(receiver.received("/lead").contains { $0.body.contains("PANIC MODE ON") })

                // A bypass of the policy system concerns every tenant.
                let bypass = try await client.send(
                    .post, "/v1/policy/system/disable", json: #"{"reason":"drill"}"#, headers: [HTTPField.Name("X-Emergency-Override")!: "true"])
                #expect(bypass.status == .ok, "\(bypass.text)")
                #expect(try await client.send(.post, "/v1/policy/system/enable", json: #"{"reason":"done"}"#).status == .ok)
                #expect(try await eventually { receiver.received("/lead").count == 5 })
                #expect(receiver.received("/lead").contains { $0.body.contains("BYPASSED") })

                let listed = try await client.send(.get, "/v1/tenants/acme/notifications", token: approver)
                #expect(try listed.array("items").count == 2 && !listed.text.contains("token=abc"))
                #expect(try await client.send(.delete, "/v1/tenants/acme/notifications/\(slackID)", token: approver).status == .forbidden)
                #expect(try await client.send(.delete, "/v1/tenants/acme/notifications/\(slackID)").status == .noContent)
                #expect(try await client.send(.delete, "/v1/tenants/acme/notifications/\(slackID)").errorCode() == "not_found")
                let audit = try await client.send(.get, "/v1/tenants/acme/audit-events").array("items").compactMap { $0["action"] as? String }
                #expect(audit.filter { $0.hasPrefix("notification_webhook.") }.count == 3, "\(audit)")
            }
        }
    }
}

/// A W3C `traceparent` header puts its trace id on the lines logged for the request.
@Suite struct TraceIDLoggingTests {
    @Test func aRequestsTraceIDIsOnItsLogLines() async throws {
        let lines = Mutex<[Data]>([])
        let sink = JSONLogHandler.Sink { data in lines.withLock { $0.append(data) } }
        let logger = Logger(label: "warden") { label in JSONLogHandler(label: label, level: .notice, sink: sink) }
        let url = try Backend.sqlite.freshDatabaseURL()
        let app = try await buildApplication(
            TestApp.configuration(databaseURL: url), logger: logger, dependencies: ApplicationDependencies(announceGeneratedKey: { _ in }))
        let traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
        try await app.test(.router) { client in
            _ = try await Demo.setUp(client)
            let traced = try await client.send(
                .post, "/v1/tenants/acme/panic", json: #"{"enabled":true,"reason":"traced"}"#,
                headers: [HTTPField.Name("traceparent")!: "00-\(traceID)-00f067aa0ba902b7-01"])
            #expect(traced.status == .ok)
            _ = try await client.send(.post, "/v1/tenants/acme/panic", json: #"{"enabled":false,"reason":"untraced"}"#)
        }
        let events = lines.withLock { $0 }.compactMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
        let enabled = try #require(events.first { $0["event"] as? String == "tenant.panic_enabled" })
        #expect(enabled["trace_id"] as? String == traceID, "\(enabled)")
        let disabled = try #require(events.first { $0["event"] as? String == "tenant.panic_disabled" })
        #expect(disabled["trace_id"] == nil)
        if case .sqlite(let path) = try DatabaseLocation(parsing: url) {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
    }
}
