import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing
import WardenCore

@testable import WardenServer

/// The policy runbook's automatic rollback, end to end: a canary that denies everything is rolled
/// back by the canary monitor within two intervals, a high incident holds the figures, the tenant's
/// notification URL (a live HTTP receiver) gets the webhook, and decisions are back on the old version.
@Suite struct AutoRollbackDrillTests {
    final class Inbox: Sendable {
        let bodies = Mutex<[String]>([])
        func withLock<T>(_ body: (inout [String]) -> T) -> T { bodies.withLock { body(&$0) } }
    }

    /// A live HTTP server that keeps every JSON body posted to `/hook`.
    static func withReceiver(_ body: @escaping @Sendable (Int, Inbox) async throws -> Void) async throws {
        let inbox = Inbox()
        let router = Router()
        router.post("/hook") { request, _ -> HTTPResponse.Status in
            let buffer = try await request.body.collect(upTo: 1 << 20)
            inbox.withLock { $0.append(String(buffer: buffer)) }
            return .ok
        }
        let receiver = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await receiver.test(.live) { client in
            try await body(try #require(client.port), inbox)
        }
    }

    static let denyAll = "package warden\n\ndecision := {\"effect\": \"deny\", \"reasons\": [\"canary says no\"]}\n"
    static let allowAll = "package warden\n\ndecision := {\"effect\": \"allow\", \"reasons\": [\"stable\"]}\n"

    @Test(arguments: Backend.available)
    func aCanaryThatDeniesEverythingIsRolledBackAutomatically(_ backend: Backend) async throws {
        let interval = 1.0
        try await Self.withReceiver { port, inbox in
            let dependencies = ApplicationDependencies(registry: SharedMetrics.registry, announceGeneratedKey: { _ in })
            let settings: (inout WardenConfiguration) -> Void = { $0.canaryMonitorInterval = .milliseconds(Int64(interval * 1000)) }
            try await TestApp.run(backend, dependencies: dependencies, mode: .router, configure: settings) { client in
                let demo = try await Demo.setUp(client)
                let patched = try await client.send(
                    .patch, "/v1/tenants/acme", json: #"{"notification_url":"http://127.0.0.1:\#(port)/hook","reason":"drill"}"#)
                #expect(patched.status == .ok, "\(patched.text)")
                #expect(try patched.object()["notification_url_set"] as? Bool == true)
                #expect(!patched.text.contains("127.0.0.1"), "the URL is not echoed")

                func create(_ version: String, _ source: String) async throws -> String {
                    let created = try await client.send(.post, "/v1/tenants/acme/bundles", json: bundleJSON(version: version, source: source))
                    #expect(created.status == .created, "\(created.text)")
                    let id = try #require(try created.object()["id"] as? String)
                    try await client.approveBundle(tenant: "acme", id)
                    return id
                }
                let stable = try await create("1.0.0", Self.allowAll)
                #expect(try await client.send(.post, "/v1/tenants/acme/bundles/\(stable)/activate").status == .ok)
                let bad = try await create("1.1.0", Self.denyAll)
                // Forced to 50 % so the demo's one agent lands in the canary or not; either way, make the
                // canary's agent decide: pick it by the same stable hash the router uses.
                let promoted = try await client.send(
                    .post, "/v1/tenants/acme/bundles/\(bad)/promote", json: #"{"to":"canary_50","force":true,"reason":"drill"}"#)
                #expect(promoted.status == .ok, "\(promoted.text)")
                let tenantText = try #require(try await client.send(.get, "/v1/tenants/acme").object()["id"] as? String)
                let tenantID = try #require(UUID(uuidString: tenantText))
                let agent = try #require((0..<500).map { "canary-\($0)" }.first { TenantSnapshot.bucket(tenantID: tenantID, agentID: $0) < 50 })
                #expect(
                    try await client.send(.post, "/v1/tenants/acme/agents", json: #"{"agent_id":"\#(agent)","roles":["support"]}"#).status == .created
                )
                let token = try #require(
                    try await client.send(.post, "/v1/tenants/acme/agents/\(agent)/tokens", json: "{}").object()["token"] as? String)
                for _ in 0..<AutoRollback.minimumSamples {
                    let answer = try await client.send(.post, "/v1/decide", token: token, json: #"{"tool":"refund","action":"create","input":{}}"#)
                    #expect(try answer.decision() == ("deny", ["canary says no"]))
                }
                _ = demo

                // Within two monitor intervals the canary is gone.
                let start = ContinuousClock.now
                var status = ""
                while ContinuousClock.now - start < .milliseconds(Int64(2 * interval * 1000) + 500) {
                    status = try await client.send(.get, "/v1/tenants/acme/bundles/\(bad)").object()["status"] as? String ?? ""
                    if status == "archived" { break }
                    try await Task.sleep(for: .milliseconds(50))
                }
                let elapsed = ContinuousClock.now - start
                #expect(status == "archived", "not rolled back after \(elapsed)")
                #expect(elapsed <= .milliseconds(Int64(2 * interval * 1000) + 500), "rolled back after \(elapsed)")
                let shown = try await client.send(.get, "/v1/tenants/acme/bundles/\(bad)").object()
                #expect(shown["rolled_back_by"] as? String == "system:canary-monitor")
                #expect((shown["rollback_reason"] as? String)?.contains("deny rate 100 %") == true)

                // Decisions are back on the old version, for every agent.
                let after = try await client.send(.post, "/v1/decide", token: token, json: #"{"tool":"refund","action":"create","input":{}}"#)
                #expect(try after.decision() == ("allow", ["stable"]))
                #expect(try after.object()["bundle"] as? String == "1.0.0")

                // The incident holds the figures.
                let incidents = try await client.send(.get, "/v1/tenants/acme/incidents").array("items")
                #expect(incidents.count == 1)
                let incident = try #require(incidents.first)
                #expect((incident["number"] as? String)?.range(of: #"^INC-\d{4}-0001$"#, options: .regularExpression) != nil)
                #expect(incident["severity"] as? String == "high")
                #expect(incident["source"] as? String == "policy.auto_rollback")
                let details = try #require(incident["details"] as? [String: Any])
                #expect(details["deny_rate"] as? Double == 1.0)
                #expect(details["samples"] as? Int == AutoRollback.minimumSamples)

                // The webhook arrived (delivered in the background).
                var hooks: [String] = []
                for _ in 0..<100 {
                    hooks = inbox.withLock { $0 }
                    if !hooks.isEmpty { break }
                    try await Task.sleep(for: .milliseconds(50))
                }
                let hook = try #require(hooks.first.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] })
                #expect(hook["type"] as? String == "policy.auto_rollback")
                #expect(hook["version"] as? String == "1.1.0")
                #expect(hook["restored_version"] == nil, "a canary hands nothing back: the active bundle never stopped")
                #expect((hook["incident"] as? [String: Any])?["number"] as? String == incident["number"] as? String)

                let metrics = try await client.send(.get, "/metrics", token: nil).text
                #expect(
                    metrics.contains(#"warden_policy_rollback_total{tenant="acme",trigger="auto"}"#)
                        || metrics.contains(#"warden_policy_rollback_total{trigger="auto",tenant="acme"}"#))
                let audit = try await client.send(.get, "/v1/tenants/acme/audit-events?limit=100").array("items")
                #expect(audit.contains { $0["action"] as? String == "bundle.rolled_back" && $0["actor"] as? String == "system:canary-monitor" })
                #expect(audit.contains { $0["action"] as? String == "incident.created" })
            }
        }
    }

    @Test(arguments: Backend.available)
    func aHighIncidentOnAYoungBundleRollsItBack(_ backend: Backend) async throws {
        try await TestApp.run(backend) { client in
            _ = try await Demo.setUp(client)
            var ids: [String] = []
            for (version, source) in [("1.0.0", Self.allowAll), ("1.1.0", Self.denyAll)] {
                let created = try await client.send(.post, "/v1/tenants/acme/bundles", json: bundleJSON(version: version, source: source))
                let id = try #require(try created.object()["id"] as? String)
                try await client.approveBundle(tenant: "acme", id)
                #expect(try await client.send(.post, "/v1/tenants/acme/bundles/\(id)/activate").status == .ok)
                ids.append(id)
            }
            // Low severity, or another source: recorded, nothing else.
            let low = try await client.send(
                .post, "/v1/tenants/acme/incidents", json: #"{"severity":"medium","source":"policy.activate","title":"some errors","error_rate":0.5}"#
            )
            #expect(low.status == .created, "\(low.text)")
            #expect(try low.object()["rolled_back"] is NSNull)
            // A young bundle (< 2 h) with errors above 5 %: rolled back at once, 1.0.0 active again.
            let high = try await client.send(
                .post, "/v1/tenants/acme/incidents",
                json: #"{"severity":"high","source":"policy.activate","title":"refunds failing","error_rate":0.07,"details":{"ticket":"POL-1"}}"#)
            #expect(high.status == .created, "\(high.text)")
            let answer = try high.object()
            #expect(answer["matrix"] as? String == "rollback")
            #expect((answer["restored"] as? [String: Any])?["version"] as? String == "1.0.0")
            let incident = try #require(answer["incident"] as? [String: Any])
            #expect(incident["action"] as? String == "rollback")
            #expect((incident["details"] as? [String: Any])?["ticket"] as? String == "POL-1")
            #expect((incident["number"] as? String)?.hasSuffix("-0002") == true)
            let active = try await client.send(.get, "/v1/tenants/acme/bundles?active_only=true").array("items")
            #expect(active.map { $0["version"] as? String } == ["1.0.0"])
            // Incidents filed at the same time take distinct numbers, one after the other.
            let numbers = try await withThrowingTaskGroup(of: String.self) { group in
                for index in 0..<6 {
                    group.addTask {
                        let filed = try await client.send(
                            .post, "/v1/tenants/acme/incidents", json: #"{"severity":"low","source":"drill","title":"parallel \#(index)"}"#)
                        return try #require((try filed.object()["incident"] as? [String: Any])?["number"] as? String, "\(filed.text)")
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(Set(numbers.map { $0.suffix(4) }) == Set(["0003", "0004", "0005", "0006", "0007", "0008"]), "\(numbers)")
            // Bad input is a 400 naming the field.
            let bad = try await client.send(.post, "/v1/tenants/acme/incidents", json: #"{"severity":"urgent","source":"x","title":"y"}"#)
            #expect(try bad.errorCode() == "invalid_field")
            let rate = try await client.send(
                .post, "/v1/tenants/acme/incidents", json: #"{"severity":"high","source":"x","title":"y","error_rate":7}"#)
            #expect(try rate.errorCode() == "invalid_field")
        }
    }
}
