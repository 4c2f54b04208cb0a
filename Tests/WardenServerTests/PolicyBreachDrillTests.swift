import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@testable import WardenServer

/// Seed 001, scenario 1 (policy breach), end to end: an `analyst` agent asks for a forbidden admin
/// action; the active bundle denies it, enforcement mode answers 403, the deny counter rises, and the
/// decision log holds the decision id, the input and the result.
@Suite struct PolicyBreachDrillTests {
    static let forbiddenAccess = #"""
        package policy.rbac

        # Analysts read; they never manage users.
        default decision := {"effect": "allow", "reasons": ["rbac: permitted"]}

        decision := {"effect": "deny", "reasons": ["rbac: analysts may not manage users"]} if {
            "analyst" in input.agent.roles
            input.tool.name == "admin_users"
            input.action in {"create", "delete"}
        }
        """#

    static func denyCount(_ client: some TestClientProtocol) async throws -> Int {
        let text = try await client.send(.get, "/metrics", token: nil).text
        let line = text.split(separator: "\n").first { $0.hasPrefix(#"warden_policy_decisions_total{decision="deny"}"#) }
        return line.flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
    }

    @Test(arguments: Backend.available)
    func analystAskingForAnAdminActionIsBlocked(_ backend: Backend) async throws {
        let dependencies = ApplicationDependencies(registry: SharedMetrics.registry, announceGeneratedKey: { _ in })
        try await TestApp.run(backend, dependencies: dependencies) { client in
            #expect(try await client.send(.post, "/v1/tenants", json: #"{"slug":"corp","default_effect":"allow"}"#).status == .created)
            #expect(
                try await client.send(.post, "/v1/tenants/corp/agents", json: #"{"agent_id":"report-bot","roles":["analyst"]}"#).status == .created)
            let tool = try await client.send(
                .post, "/v1/tenants/corp/tools",
                json: #"{"name":"admin_users","description":"POST /api/admin/users","risk":"critical","capabilities":["create","delete","read"]}"#)
            #expect(tool.status == .created, "\(tool.text)")
            let bundle = try await client.send(
                .post, "/v1/tenants/corp/bundles",
                json:
                    #"{"version":"1.0.0","entrypoint":"data.policy.rbac.decision","modules":{"policy/rbac/forbidden_access.rego":\#(jsonString(Self.forbiddenAccess))}}"#
            )
            let bundleID = try #require(try bundle.object()["id"] as? String, "\(bundle.text)")
            try await client.approveBundle(tenant: "corp", bundleID)
            #expect(try await client.send(.post, "/v1/tenants/corp/bundles/\(bundleID)/activate", json: #"{"reason":"drill"}"#).status == .ok)
            let token = try #require(
                try await client.send(.post, "/v1/tenants/corp/agents/report-bot/tokens", json: "{}").object()["token"] as? String)

            let before = try await Self.denyCount(client)
            let request = #"{"tool":"admin_users","action":"create","input":{"path":"/api/admin/users","role":"analyst","user":"mallory"}}"#
            let denied = try await client.send(.post, "/v1/decide?enforce=true", token: token, json: request)
            #expect(denied.status == .forbidden)
            let answer = try denied.object()
            #expect(answer["effect"] as? String == "deny")
            #expect(answer["reasons"] as? [String] == ["rbac: analysts may not manage users"])
            #expect(answer["bundle"] as? String == "1.0.0")
            #expect(try await Self.denyCount(client) >= before + 1, "the deny counter rises")

            // Reading is still allowed: the block is exact, not a blanket one.
            let read = try await client.send(.post, "/v1/decide?enforce=true", token: token, json: #"{"tool":"admin_users","action":"read"}"#)
            #expect(read.status == .ok)

            // The record holds the decision id, the input and the result.
            let decisionID = try #require(answer["decision_id"] as? String)
            let record = try await client.send(.get, "/v1/tenants/corp/decisions/\(decisionID)").object()
            #expect(record["id"] as? String == decisionID)
            #expect((record["input"] as? [String: Any])?["path"] as? String == "/api/admin/users")
            #expect(record["effect"] as? String == "deny")
            #expect(record["reasons"] as? [String] == ["rbac: analysts may not manage users"])
            #expect(record["bundle_id"] as? String == bundleID)
            let denials = try await client.send(.get, "/v1/tenants/corp/decisions?effect=deny&bundle=1.0.0&limit=10").array("items")
            #expect(denials.map { $0["id"] as? String } == [decisionID])
        }
    }
}
