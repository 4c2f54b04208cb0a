import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@testable import WardenServer

/// A tenant `acme` with agent `bot` (token in `token`) and tool `refund` offering `create` and `read`.
struct Demo {
    var token: String
    var tokenID: String

    static func setUp(
        _ client: some TestClientProtocol, defaultEffect: String = "allow", approvalLevel: String = "auto_approve"
    ) async throws -> Demo {
        let tenant = try await client.send(.post, "/v1/tenants", json: #"{"slug":"acme","default_effect":"\#(defaultEffect)"}"#)
        #expect(tenant.status == .created, "\(tenant.text)")
        let agent = try await client.send(.post, "/v1/tenants/acme/agents", json: #"{"agent_id":"bot","roles":["support"]}"#)
        #expect(agent.status == .created, "\(agent.text)")
        let tool = try await client.send(
            .post, "/v1/tenants/acme/tools",
            json:
                #"{"name":"refund","description":"Refund an order","risk":"high","capabilities":["create","read"],"approval_level":"\#(approvalLevel)"}"#
        )
        #expect(tool.status == .created, "\(tool.text)")
        let issued = try await client.send(.post, "/v1/tenants/acme/agents/bot/tokens", json: #"{"ttl_seconds":3600}"#)
        #expect(issued.status == .created, "\(issued.text)")
        let object = try issued.object()
        return Demo(token: try #require(object["token"] as? String), tokenID: try #require(object["token_id"] as? String))
    }

    func decide(_ client: some TestClientProtocol, tool: String = "refund", action: String = "create", extra: String = "") async throws
        -> TestResponse
    {
        try await client.send(.post, "/v1/decide", token: token, json: #"{"tool":"\#(tool)","action":"\#(action)","input":{"order":42}\#(extra)}"#)
    }
}

extension TestResponse {
    /// `(effect, reasons)` of a decide answer.
    func decision() throws -> (String, [String]) {
        let object = try object()
        return (try #require(object["effect"] as? String, "\(text)"), try #require(object["reasons"] as? [String]))
    }
}

@Suite struct DecideTests {
    @Test(arguments: Backend.available)
    func checksRunInOrderAndEveryAnswerIsLogged(_ backend: Backend) async throws {
        try await TestApp.run(backend) { client in
            let demo = try await Demo.setUp(client)
            let allowed = try await demo.decide(client)
            #expect(allowed.status == .ok)
            #expect(try allowed.decision() == ("allow", ["default_allow"]))
            let answer = try allowed.object()
            #expect(answer["bundle"] is NSNull)
            #expect((answer["evaluated_ns"] as? Int ?? -1) >= 0)

            #expect(try await demo.decide(client, tool: "wire_transfer").decision() == ("deny", ["unknown_tool"]))
            #expect(try await demo.decide(client, action: "delete").decision() == ("deny", ["capability_violation"]))

            // The tenant's default effect decides while there is no policy.
            let patched = try await client.send(.patch, "/v1/tenants/acme", json: #"{"default_effect":"deny","reason":"lock down"}"#)
            #expect(patched.status == .ok)
            #expect(try patched.object()["default_effect"] as? String == "deny")
            #expect(try await demo.decide(client).decision() == ("deny", ["default_deny"]))

            // Every answer is in the log with what was asked.
            let decisionID = try #require(answer["decision_id"] as? String)
            let record = try await client.send(.get, "/v1/tenants/acme/decisions/\(decisionID)")
            #expect(record.status == .ok)
            let fields = try record.object()
            #expect(fields["agent_id"] as? String == "bot")
            #expect(fields["tool"] as? String == "refund")
            #expect(fields["effect"] as? String == "allow")
            #expect((fields["input"] as? [String: Any])?["order"] as? Int == 42)
            let all = try await client.send(.get, "/v1/tenants/acme/decisions").array("items")
            #expect(all.count == 4)
            #expect(all.first?["reasons"] as? [String] == ["default_deny"], "newest first")
            let denied = try await client.send(.get, "/v1/tenants/acme/decisions?effect=deny").array("items")
            #expect(denied.count == 3)
            let unknown = try await client.send(.get, "/v1/tenants/acme/decisions?tool=wire_transfer").array("items")
            #expect(unknown.count == 1)
            let page = try await client.send(.get, "/v1/tenants/acme/decisions?limit=3").object()
            let cursor = try #require(page["next_cursor"] as? String)
            let rest = try await client.send(.get, "/v1/tenants/acme/decisions?limit=3&cursor=\(cursor)").array("items")
            #expect(rest.count == 1)
            #expect(rest.first?["decision_id"] == nil && rest.first?["id"] as? String == decisionID)
            let future = try await client.send(.get, "/v1/tenants/acme/decisions?since=2999-01-01T00:00:00Z").array("items")
            #expect(future.isEmpty)
        }
    }

    @Test func approvalLevelRaisesAllowToRequireApproval() async throws {
        try await TestApp.run(.sqlite) { client in
            let demo = try await Demo.setUp(client, approvalLevel: "two_person")
            #expect(try await demo.decide(client).decision() == ("require_approval", ["default_allow", "approval_required"]))
            // A deny stays a deny whatever the approval level.
            try await client.send(.patch, "/v1/tenants/acme", json: #"{"default_effect":"deny"}"#)
            #expect(try await demo.decide(client).decision() == ("deny", ["default_deny"]))
        }
    }

    @Test func adminKeyDecidesByNamingTenantAndAgent() async throws {
        try await TestApp.run(.sqlite) { client in
            _ = try await Demo.setUp(client)
            let response = try await client.send(.post, "/v1/decide", json: #"{"tenant":"acme","agent":"bot","tool":"refund","action":"read"}"#)
            #expect(try response.decision() == ("allow", ["default_allow"]))
            let missing = try await client.send(.post, "/v1/decide", json: #"{"tool":"refund","action":"read"}"#)
            #expect(try missing.errorCode() == "missing_field")
            let noAgent = try await client.send(.post, "/v1/decide", json: #"{"tenant":"acme","agent":"ghost","tool":"refund","action":"read"}"#)
            #expect(noAgent.status == .notFound)
            #expect(try noAgent.errorCode() == "agent_not_found")
            let noTenant = try await client.send(.post, "/v1/decide", json: #"{"tenant":"nope","agent":"bot","tool":"refund","action":"read"}"#)
            #expect(try noTenant.errorCode() == "tenant_not_found")
        }
    }

    @Test func badDecideInputIsA400() async throws {
        try await TestApp.run(.sqlite) { client in
            let demo = try await Demo.setUp(client)
            let noAction = try await client.send(.post, "/v1/decide", token: demo.token, json: #"{"tool":"refund"}"#)
            #expect(try noAction.errorCode() == "missing_field")
            let badCost = try await demo.decide(client, extra: #","cost":-1"#)
            #expect(try badCost.errorCode() == "invalid_field")
            let deep = String(repeating: "[", count: 80) + String(repeating: "]", count: 80)
            let nested = try await client.send(.post, "/v1/decide", token: demo.token, json: #"{"tool":"refund","action":"read","input":\#(deep)}"#)
            #expect(nested.status == .badRequest)
            let otherTenant = try await demo.decide(client, extra: #","tenant":"other""#)
            #expect(otherTenant.status == .forbidden)
            // The body reader's errors: each a 400 that names the field or the place in the text.
            let cases: [(body: String, code: String, message: String)] = [
                (
                    #"{"tool":"refund","action":"create","input":{"a":1,}}"#, "malformed_json",
                    "request body is not valid JSON: expected a string key in an object at line 1, column 51"
                ),
                (
                    #"{"tool":"refund","tool":"email","action":"create"}"#, "malformed_json",
                    "request body is not valid JSON: duplicate key 'tool' in an object at line 1, column 18"
                ),
                ("[1]", "malformed_json", "request body must be a JSON object"),
                (#"{"tool":7,"action":"create"}"#, "invalid_field", "field 'tool' must be a string"),
                (#"{"tool":null,"action":"create"}"#, "missing_field", "field 'tool' must not be null"),
                (#"{"tool":"refund","action":"create","cost":"2"}"#, "invalid_field", "field 'cost' must be a number"),
                (#"{"tool":"refund","action":"create","run_id":1}"#, "invalid_field", "field 'run_id' must be a string"),
            ]
            for (body, code, message) in cases {
                let answer = try await client.send(.post, "/v1/decide", token: demo.token, json: body)
                #expect(answer.status == .badRequest, "\(body)")
                #expect(try answer.errorCode() == code, "\(body)")
                #expect((try answer.object()["error"] as? [String: Any])?["message"] as? String == message, "\(answer.text)")
            }
            // A null input is no input; the bearer scheme is case-insensitive and blanks around the token are ignored.
            for header in ["bearer \(demo.token)", "BEARER   \(demo.token)\t"] {
                let answer = try await client.send(
                    .post, "/v1/decide", token: nil, json: #"{"tool":"refund","action":"create","input":null,"cost":3}"#,
                    headers: [.authorization: header])
                #expect(answer.status == .ok, "\(header): \(answer.text)")
            }
            for header in ["Bearer", "Bearer ", "Bearer  \t ", "Basic \(demo.token)", "Bearerx \(demo.token)"] {
                let answer = try await client.send(.post, "/v1/decide", token: nil, json: "{}", headers: [.authorization: header])
                #expect(answer.status == .unauthorized, "\(header)")
            }
            let badEffect = try await client.send(.get, "/v1/tenants/acme/decisions?effect=maybe")
            #expect(try badEffect.errorCode() == "invalid_field")
            let badTime = try await client.send(.get, "/v1/tenants/acme/decisions?since=yesterday")
            #expect(try badTime.errorCode() == "invalid_field")
        }
    }
}

@Suite struct AgentTokenTests {
    @Test(arguments: Backend.available)
    func revokedTokenIsRefusedAtOnce(_ backend: Backend) async throws {
        try await TestApp.run(backend) { client in
            let demo = try await Demo.setUp(client)
            #expect(try await demo.decide(client).status == .ok)
            let revoked = try await client.send(.delete, "/v1/tenants/acme/tokens/\(demo.tokenID)?reason=leaked")
            #expect(revoked.status == .ok)
            #expect(try revoked.object()["revoked_at"] is String)
            let after = try await demo.decide(client)
            #expect(after.status == .unauthorized)
            #expect(try after.errorCode() == "unauthenticated")
            let again = try await client.send(.delete, "/v1/tenants/acme/tokens/\(demo.tokenID)")
            #expect(try again.errorCode() == "token_revoked")
            let audit = try await client.send(.get, "/v1/tenants/acme/audit-events?action=agent_token.revoked").array("items")
            #expect(audit.first?["reason"] as? String == "leaked")
        }
    }

    @Test func tokensAreScopedAndForgeriesRefused() async throws {
        try await TestApp.run(.sqlite) { client in
            let demo = try await Demo.setUp(client)
            try await client.send(.post, "/v1/tenants", json: #"{"slug":"beta"}"#)
            // An agent token is not an API key.
            let admin = try await client.send(.get, "/v1/tenants/acme/tools", token: demo.token)
            #expect(admin.status == .forbidden)
            let otherTenant = try await client.send(.get, "/v1/tenants/beta/events", token: demo.token)
            #expect(otherTenant.status == .notFound)
            // A token with a changed payload or signature is refused.
            var parts = demo.token.split(separator: ".").map(String.init)
            parts[2] = String(parts[2].reversed())
            let forged = try await client.send(.post, "/v1/decide", token: parts.joined(separator: "."), json: #"{"tool":"refund","action":"read"}"#)
            #expect(forged.status == .unauthorized)
            let garbage = try await client.send(.post, "/v1/decide", token: "a.b.c", json: #"{"tool":"refund","action":"read"}"#)
            #expect(garbage.status == .unauthorized)

            let duplicate = try await client.send(.post, "/v1/tenants/acme/agents", json: #"{"agent_id":"bot"}"#)
            #expect(try duplicate.errorCode() == "agent_exists")
            let ghost = try await client.send(.post, "/v1/tenants/acme/agents/ghost/tokens", json: "")
            #expect(try ghost.errorCode() == "agent_not_found")
            let badTTL = try await client.send(.post, "/v1/tenants/acme/agents/bot/tokens", json: #"{"ttl_seconds":5}"#)
            #expect(try badTTL.errorCode() == "invalid_field")
            let badName = try await client.send(.post, "/v1/tenants/acme/agents", json: #"{"agent_id":"has space"}"#)
            #expect(try badName.errorCode() == "invalid_field")
            let listed = try await client.send(.get, "/v1/tenants/acme/agents").array("items")
            #expect(listed.map { $0["agent_id"] as? String } == ["bot"])
            #expect(try await client.send(.get, "/v1/tenants/acme/agents/bot").object()["roles"] as? [String] == ["support"])
        }
    }
}
