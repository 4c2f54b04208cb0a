import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import WardenCore

@testable import WardenServer

/// The rollout lifecycle over HTTP: versions, approval, canary routing, gates, promotion, rollback.
@Suite struct RolloutAPITests {
    /// A policy that allows everything with a reason naming its version, so each decision shows who made it.
    static func bundle(_ version: String) -> String {
        bundleJSON(version: version, source: "package warden\n\ndecision := {\"effect\": \"allow\", \"reasons\": [\"v\(version)\"]}\n")
    }

    /// Creates a bundle as the admin and approves it as an approver; returns its id.
    static func approved(_ client: some TestClientProtocol, _ version: String) async throws -> String {
        let created = try await client.send(.post, "/v1/tenants/acme/bundles", json: bundle(version))
        #expect(created.status == .created, "\(created.text)")
        let id = try #require(try created.object()["id"] as? String)
        try await client.approveBundle(tenant: "acme", id)
        return id
    }

    @Test(arguments: Backend.available)
    func versionsApprovalAndImmutability(_ backend: Backend) async throws {
        try await TestApp.run(backend) { client in
            _ = try await Demo.setUp(client)
            let created = try await client.send(.post, "/v1/tenants/acme/bundles", json: Self.bundle("1.0.0"))
            let id = try #require(try created.object()["id"] as? String)
            // No skipped versions (422), no reuse (409).
            let skipped = try await client.send(.post, "/v1/tenants/acme/bundles", json: Self.bundle("1.0.2"))
            #expect(skipped.status == .unprocessableContent, "\(skipped.text)")
            #expect(try skipped.errorCode() == "version_skipped")
            #expect(skipped.text.contains("1.0.1, 1.1.0, 2.0.0"))
            #expect(try await client.send(.post, "/v1/tenants/acme/bundles", json: Self.bundle("1.0.0")).status == .conflict)
            #expect(try await client.send(.post, "/v1/tenants/acme/bundles", json: Self.bundle("2.0.0")).status == .created)

            // A draft cannot be promoted or activated; its author cannot approve it; nor can an author key.
            let early = try await client.send(.post, "/v1/tenants/acme/bundles/\(id)/promote", json: #"{"to":"canary_10"}"#)
            #expect(try early.errorCode() == "bundle_not_approved")
            #expect(try await client.send(.post, "/v1/tenants/acme/bundles/\(id)/activate").status == .conflict)
            let own = try await client.send(.post, "/v1/tenants/acme/bundles/\(id)/approve")
            #expect(own.status == .forbidden, "\(own.text)")
            #expect(own.text.contains("someone else must approve"))
            let authorCreated = try await client.send(.post, "/v1/api-keys", json: #"{"name":"a","role":"author","tenant":"acme"}"#)
            let authorKey = try #require(try authorCreated.object()["key"] as? String)
            #expect(try await client.send(.post, "/v1/tenants/acme/bundles/\(id)/approve", token: authorKey).status == .forbidden)
            try await client.approveBundle(tenant: "acme", id)
            let shown = try await client.send(.get, "/v1/tenants/acme/bundles/\(id)").object()
            #expect(shown["status"] as? String == "approved")
            #expect((shown["approved_by"] as? String)?.hasPrefix("api_key:") == true)
            // Approved is immutable and approved once.
            #expect(try await client.send(.patch, "/v1/tenants/acme/bundles/\(id)", json: #"{"notes":"x"}"#).errorCode() == "bundle_immutable")
            let again = try await client.send(.post, "/v1/tenants/acme/bundles/\(id)/approve", token: nil, headers: [:])
            #expect(again.status == .unauthorized)
            // A skip needs force, and force needs a reason.
            let skip = try await client.send(.post, "/v1/tenants/acme/bundles/\(id)/promote", json: #"{"to":"active"}"#)
            #expect(try skip.errorCode() == "rollout_gate_failed")
            let noReason = try await client.send(.post, "/v1/tenants/acme/bundles/\(id)/promote", json: #"{"to":"active","force":true}"#)
            #expect(try noReason.errorCode() == "missing_field")
            let badTarget = try await client.send(.post, "/v1/tenants/acme/bundles/\(id)/promote", json: #"{"to":"live"}"#)
            #expect(try badTarget.errorCode() == "invalid_field")
            let forced = try await client.send(
                .post, "/v1/tenants/acme/bundles/\(id)/promote", json: #"{"to":"active","force":true,"reason":"hotfix for INC-1"}"#)
            #expect(forced.status == .ok, "\(forced.text)")
            let history = try await client.send(.get, "/v1/tenants/acme/bundles/\(id)").array("transitions")
            #expect(history.map { "\($0["from"]!)->\($0["to"]!)" } == ["draft->approved", "approved->active"])
            #expect(history.last?["forced"] as? Bool == true)
            #expect(history.last?["reason"] as? String == "hotfix for INC-1")
        }
    }

    @Test(arguments: Backend.available)
    func canaryRoutesByAgentPassesGatesAndRollsBack(_ backend: Backend) async throws {
        let dependencies = ApplicationDependencies(registry: SharedMetrics.registry, announceGeneratedKey: { _ in })
        let noWait: (inout WardenConfiguration) -> Void = { $0.canaryMinimumStage = 0 }
        try await TestApp.run(backend, dependencies: dependencies, configure: noWait) { client in
            _ = try await Demo.setUp(client)
            let tenantText = try #require(try await client.send(.get, "/v1/tenants/acme").object()["id"] as? String)
            let tenantID = try #require(UUID(uuidString: tenantText))
            // Two agents: one the canary's 10 % takes, one it does not.
            let names = (0..<500).map { "agent-\($0)" }
            let inCanary = try #require(names.first { TenantSnapshot.bucket(tenantID: tenantID, agentID: $0) < 10 })
            let outside = try #require(names.first { TenantSnapshot.bucket(tenantID: tenantID, agentID: $0) >= 50 })
            var tokens: [String: String] = [:]
            for name in [inCanary, outside] {
                #expect(
                    try await client.send(.post, "/v1/tenants/acme/agents", json: #"{"agent_id":"\#(name)","roles":["support"]}"#).status == .created)
                let issued = try await client.send(.post, "/v1/tenants/acme/agents/\(name)/tokens", json: "{}")
                tokens[name] = try #require(try issued.object()["token"] as? String)
            }
            func decide(_ agent: String) async throws -> [String: Any] {
                let answer = try await client.send(
                    .post, "/v1/decide", token: tokens[agent], json: #"{"tool":"refund","action":"create","input":{"n":1},"cost":1.5}"#)
                #expect(answer.status == .ok, "\(answer.text)")
                return try answer.object()
            }
            let v1 = try await Self.approved(client, "1.0.0")
            #expect(try await client.send(.post, "/v1/tenants/acme/bundles/\(v1)/activate").status == .ok)
            let v2 = try await Self.approved(client, "1.1.0")
            #expect(try await client.send(.get, "/v1/tenants/acme/bundles/\(v2)/canary-status").errorCode() == "bundle_state_conflict")
            let canary = try await client.send(
                .post, "/v1/tenants/acme/bundles/\(v2)/promote", json: #"{"to":"canary_10","reason":"start canary"}"#)
            #expect(canary.status == .ok, "\(canary.text)")
            #expect(try canary.object()["share"] as? Int == 10)
            // A second canary waits its turn.
            let v3 = try await Self.approved(client, "1.2.0")
            let second = try await client.send(.post, "/v1/tenants/acme/bundles/\(v3)/promote", json: #"{"to":"canary_10"}"#)
            #expect(try second.errorCode() == "bundle_state_conflict")

            // The same agent always lands on the same side; each decision records its cohort.
            for _ in 0..<3 {
                let a = try await decide(inCanary)
                #expect(a["reasons"] as? [String] == ["v1.1.0"])
                #expect(a["cohort"] as? String == "canary")
                let b = try await decide(outside)
                #expect(b["reasons"] as? [String] == ["v1.0.0"])
                #expect(b["cohort"] as? String == "baseline")
            }
            let logged = try await client.send(.get, "/v1/tenants/acme/decisions?limit=10").array("items")
            #expect(Set(logged.compactMap { $0["cohort"] as? String }) == ["canary", "baseline"])

            // Too few samples: the gates fail, and an unforced promotion is refused.
            let status = try await client.send(.get, "/v1/tenants/acme/bundles/\(v2)/canary-status").object()
            #expect(status["stage"] as? String == "canary_10")
            #expect(status["samples"] as? Int == 3)
            #expect(status["passed"] as? Bool == false)
            let gates = try #require(status["gates"] as? [[String: Any]])
            #expect(gates.map { $0["name"] as? String } == ["min_samples", "error_rate", "deny_rate", "cost_increase", "no_match_rate"])
            #expect(gates.first?["passed"] as? Bool == false)
            #expect(gates.dropFirst().allSatisfy { $0["passed"] as? Bool == true })
            let refused = try await client.send(.post, "/v1/tenants/acme/bundles/\(v2)/promote", json: #"{"to":"canary_50"}"#)
            #expect(try refused.errorCode() == "rollout_gate_failed")
            // The thresholds are the tenant's to set: with 3 samples enough, the gates pass; null restores the defaults.
            let lowered = try await client.send(.patch, "/v1/tenants/acme", json: #"{"rollout":{"min_samples":3,"max_deny_rate":0.1}}"#)
            #expect(lowered.status == .ok, "\(lowered.text)")
            #expect((try lowered.object()["rollout"] as? [String: Any])?["min_samples"] as? Int == 3)
            #expect((try lowered.object()["rollout"] as? [String: Any])?["max_error_rate"] as? Double == 0.05)
            let relaxed = try await client.send(.get, "/v1/tenants/acme/bundles/\(v2)/canary-status").object()
            #expect(relaxed["passed"] as? Bool == true, "\(relaxed)")
            #expect((relaxed["gates"] as? [[String: Any]])?.first?["threshold"] as? Double == 3)
            for bad in [#"{"rollout":{"max_error_rate":2}}"#, #"{"rollout":{"min_samples":0}}"#, #"{"rollout":{"nope":1}}"#, #"{"rollout":5}"#] {
                #expect(try await client.send(.patch, "/v1/tenants/acme", json: bad).errorCode() == "invalid_field", "\(bad)")
            }
            #expect(try await client.send(.patch, "/v1/tenants/acme", json: #"{"rollout":null}"#).status == .ok)
            let restored = try await client.send(.get, "/v1/tenants/acme/bundles/\(v2)/canary-status").object()
            #expect(restored["passed"] as? Bool == false)
            // With 100 canary samples they pass, and the promotion goes through.
            for _ in 0..<97 { _ = try await decide(inCanary) }
            let checked = try await client.send(.post, "/v1/tenants/acme/bundles/\(v2)/check-gates").object()
            #expect(checked["passed"] as? Bool == true, "\(checked)")
            #expect(checked["promotable"] as? Bool == true)
            let fifty = try await client.send(.post, "/v1/tenants/acme/bundles/\(v2)/promote", json: #"{"to":"canary_50"}"#)
            #expect(fifty.status == .ok, "\(fifty.text)")
            let metrics = try await client.send(.get, "/metrics", token: nil).text
            // The gauge is process-wide and other suites' tenants are also called acme, so only its presence is checked here.
            #expect(metrics.contains(#"warden_bundle_canary_gate_passed{tenant="acme"}"#))

            // Rolling back the canary ends it at once; the active bundle decides for everyone.
            let noReason = try await client.send(.post, "/v1/tenants/acme/bundles/\(v2)/rollback", json: #"{"reason":""}"#)
            #expect(try noReason.errorCode() == "missing_field")
            let rolled = try await client.send(
                .post, "/v1/tenants/acme/bundles/\(v2)/rollback",
                json: #"{"reason":"error rate 7.2% during canary","rolled_back_by":"alice","create_incident":true}"#)
            #expect(rolled.status == .ok, "\(rolled.text)")
            let rolledBack = try #require(try rolled.object()["bundle"] as? [String: Any])
            #expect(rolledBack["status"] as? String == "archived")
            #expect(rolledBack["rolled_back_by"] as? String == "alice")
            let manualIncident = try #require(try rolled.object()["incident"] as? [String: Any])
            #expect(manualIncident["severity"] as? String == "high")
            #expect(manualIncident["source"] as? String == "policy.rollback")
            #expect((manualIncident["details"] as? [String: Any])?["rolled_back_by"] as? String == "alice")
            let listed = try await client.send(.get, "/v1/tenants/acme/incidents").array("items")
            #expect(listed.map { $0["number"] as? String } == [manualIncident["number"] as? String])
            #expect(try await decide(inCanary)["reasons"] as? [String] == ["v1.0.0"])
            #expect(try await decide(inCanary)["cohort"] is NSNull)
            #expect(try await client.send(.post, "/v1/tenants/acme/bundles/\(v2)/promote", json: #"{"to":"active"}"#).status == .conflict)

            // v3 all the way (forced), then rolled back: v1 is active again at once.
            #expect(
                try await client.send(
                    .post, "/v1/tenants/acme/bundles/\(v3)/promote", json: #"{"to":"active","force":true,"reason":"skip canary"}"#
                ).status == .ok)
            #expect(try await decide(outside)["reasons"] as? [String] == ["v1.2.0"])
            let v1Shown = try await client.send(.get, "/v1/tenants/acme/bundles/\(v1)").object()
            #expect(v1Shown["status"] as? String == "archived")
            let back = try await client.send(.post, "/v1/tenants/acme/bundles/\(v3)/rollback", json: #"{"reason":"deny spike"}"#).object()
            #expect((back["restored"] as? [String: Any])?["version"] as? String == "1.0.0")
            #expect(try await decide(outside)["reasons"] as? [String] == ["v1.0.0"])
            let active = try await client.send(.get, "/v1/tenants/acme/bundles?active_only=true").array("items")
            #expect(active.map { $0["version"] as? String } == ["1.0.0"])
            let v1History = try await client.send(.get, "/v1/tenants/acme/bundles/\(v1)").array("transitions")
            #expect(
                v1History.map { "\($0["from"]!)->\($0["to"]!)" } == ["draft->approved", "approved->active", "active->archived", "archived->active"])

            // Every step is audited.
            let audit = try await client.send(.get, "/v1/tenants/acme/audit-events?limit=100").array("items").compactMap { $0["action"] as? String }
            #expect(audit.filter { $0 == "bundle.approved" }.count == 3)
            #expect(audit.filter { $0 == "bundle.promoted" }.count == 2)
            #expect(audit.filter { $0 == "bundle.rolled_back" }.count == 2)
            #expect(audit.filter { $0 == "bundle.activated" }.count == 2)
        }
    }
}
