import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@testable import WardenServer

/// The runbook's emergency bypass: policy evaluation off for every tenant, the kill switch still on.
@Suite struct PolicyBypassTests {
    @Test(arguments: Backend.available)
    func aGlobalAdminWithTheOverrideHeaderBypassesPolicies(_ backend: Backend) async throws {
        try await TestApp.run(backend) { client in
            let demo = try await Demo.setUp(client)
            let deny = "package warden\n\ndecision := {\"effect\": \"deny\", \"reasons\": [\"broken policy\"]}\n"
            let created = try await client.send(.post, "/v1/tenants/acme/bundles", json: bundleJSON(version: "1.0.0", source: deny))
            let id = try #require(try created.object()["id"] as? String)
            try await client.approveBundle(tenant: "acme", id)
            #expect(try await client.send(.post, "/v1/tenants/acme/bundles/\(id)/activate").status == .ok)
            #expect(try await demo.decide(client).decision() == ("deny", ["broken policy"]))

            let override: HTTPFields = [HTTPField.Name("X-Emergency-Override")!: "true"]
            // Only a global admin, only with the header, only with a reason.
            let tenantAdmin = try #require(
                try await client.send(.post, "/v1/api-keys", json: #"{"name":"ta","role":"admin","tenant":"acme"}"#).object()["key"] as? String)
            let notGlobal = try await client.send(
                .post, "/v1/policy/system/disable", token: tenantAdmin, json: #"{"reason":"x"}"#, headers: override)
            #expect(notGlobal.status == .forbidden)
            let noHeader = try await client.send(.post, "/v1/policy/system/disable", json: #"{"reason":"rollback failed"}"#)
            #expect(noHeader.status == .forbidden)
            #expect(noHeader.text.contains("X-Emergency-Override"))
            let noReason = try await client.send(.post, "/v1/policy/system/disable", json: "{}", headers: override)
            #expect(try noReason.errorCode() == "missing_field")
            #expect(try await demo.decide(client).decision() == ("deny", ["broken policy"]))

            let disabled = try await client.send(
                .post, "/v1/policy/system/disable", json: #"{"enabled":false,"reason":"Emergency bypass: rollback failed"}"#, headers: override)
            #expect(disabled.status == .ok, "\(disabled.text)")
            #expect(try disabled.object()["policy_evaluation"] as? String == "disabled")
            let bypassed = try await demo.decide(client)
            #expect(try bypassed.decision() == ("allow", ["policy_bypassed"]))
            #expect(try bypassed.object()["bypass"] as? Bool == true)
            #expect(try bypassed.object()["bundle"] is NSNull)
            // The kill switch still applies.
            #expect(try await client.send(.post, "/v1/tenants/acme/tools/refund/kill", json: #"{"reason":"drill"}"#).status == .ok)
            #expect(try await demo.decide(client).decision() == ("deny", ["tool_disabled"]))
            #expect(try await client.send(.post, "/v1/tenants/acme/tools/refund/restore", json: #"{"reason":"drill over"}"#).status == .ok)
            // The decision log marks it.
            let logged = try await client.send(.get, "/v1/tenants/acme/decisions?limit=5").array("items")
            #expect(logged.contains { $0["bypass"] as? Bool == true })
            let shown = try await client.send(.get, "/v1/policy/system").object()
            #expect(shown["bypass"] as? Bool == true)
            #expect(shown["reason"] as? String == "Emergency bypass: rollback failed")

            // Ending it: the policy decides again. Both switches are critical audit events.
            #expect(try await client.send(.post, "/v1/policy/system/enable", json: #"{"reason":"v1.0.1 deployed"}"#).status == .ok)
            #expect(try await demo.decide(client).decision() == ("deny", ["broken policy"]))
            let audit = try await client.send(.get, "/v1/audit-events?limit=100").array("items")
            let switches = audit.filter { ($0["action"] as? String)?.hasPrefix("policy.system_") == true }
            #expect(switches.map { $0["action"] as? String } == ["policy.system_enabled", "policy.system_disabled"])
            #expect(switches.allSatisfy { ($0["details"] as? [String: Any])?["severity"] as? String == "critical" })
        }
    }
}
