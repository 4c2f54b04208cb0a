import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@testable import WardenServer

/// A policy in the shape docs/policy.md describes: refunds above 100 need approval, analysts may only
/// read, everything else is allowed with a reason.
let refundPolicy = #"""
    package warden

    default decision := {"effect": "allow", "reasons": ["no rule objected"]}

    decision := {"effect": "deny", "reasons": ["analysts may only read"]} if {
        "analyst" in input.agent.roles
        input.action != "read"
    }

    decision := {"effect": "require_approval", "reasons": ["refund above 100"], "obligations": {"approvers": 1}} if {
        not "analyst" in input.agent.roles
        input.tool.name == "refund"
        input.request.amount > 100
    }
    """#

func bundleJSON(version: String, source: String = refundPolicy, extra: String = "") -> String {
    #"{"version":"\#(version)","modules":{"policy/refunds.rego":\#(jsonString(source))},"entrypoint":"data.warden.decision"\#(extra)}"#
}

func jsonString(_ text: String) -> String {
    String(decoding: try! JSONSerialization.data(withJSONObject: [text], options: [.fragmentsAllowed]), as: UTF8.self).dropFirst().dropLast()
        .description
}

@Suite struct BundleAPITests {
    @Test(arguments: Backend.available)
    func draftsAreCheckedEditedAndActivated(_ backend: Backend) async throws {
        try await TestApp.run(backend) { client in
            let demo = try await Demo.setUp(client)
            // An invalid module is refused with where the mistake is, and nothing is stored.
            let broken = try await client.send(
                .post, "/v1/tenants/acme/bundles", json: bundleJSON(version: "1.0.0", source: "package warden\n\ndecision := {\n"))
            #expect(broken.status == .unprocessableContent, "\(broken.text)")
            #expect(try broken.errorCode() == "invalid_policy")
            let details = try #require(try broken.object()["error"] as? [String: Any])["details"] as? [String: Any]
            #expect(details?["file"] as? String == "policy/refunds.rego")
            #expect(details?["line"] as? Int == 4)
            #expect(details?["column"] as? Int != nil)
            let unknownFunction = try await client.send(
                .post, "/v1/tenants/acme/bundles", json: bundleJSON(version: "1.0.0", source: "package warden\n\ndecision := nope(1)\n"))
            #expect(unknownFunction.status == .unprocessableContent)
            #expect(try unknownFunction.object().description.contains("nope"))
            let badVersion = try await client.send(.post, "/v1/tenants/acme/bundles", json: bundleJSON(version: "1.0"))
            #expect(badVersion.status == .badRequest)
            #expect(try await client.send(.get, "/v1/tenants/acme/bundles").array("items").isEmpty)

            // A draft decides nothing.
            let created = try await client.send(.post, "/v1/tenants/acme/bundles", json: bundleJSON(version: "1.0.0"))
            #expect(created.status == .created, "\(created.text)")
            let bundle = try created.object()
            let id = try #require(bundle["id"] as? String)
            #expect(bundle["status"] as? String == "draft")
            #expect(try await demo.decide(client).decision() == ("allow", ["default_allow"]))
            #expect(try await client.send(.post, "/v1/tenants/acme/bundles", json: bundleJSON(version: "1.0.0")).status == .conflict)

            // Drafts are editable; the edit is compiled too.
            let edited = try await client.send(.patch, "/v1/tenants/acme/bundles/\(id)", json: #"{"notes":"first policy"}"#)
            #expect(edited.status == .ok, "\(edited.text)")
            let badEdit = try await client.send(
                .patch, "/v1/tenants/acme/bundles/\(id)", json: #"{"modules":{"a.rego":"package warden\ndecision := ["}}"#)
            #expect(badEdit.status == .unprocessableContent)

            // Activation: the very next decision is the policy's.
            try await client.approveBundle(tenant: "acme", id)
            let activated = try await client.send(.post, "/v1/tenants/acme/bundles/\(id)/activate", json: #"{"reason":"go live"}"#)
            #expect(activated.status == .ok, "\(activated.text)")
            #expect(try activated.object()["status"] as? String == "active")
            func decide(amount: Int) async throws -> TestResponse {
                try await client.send(
                    .post, "/v1/decide", token: demo.token, json: #"{"tool":"refund","action":"create","input":{"amount":\#(amount)}}"#)
            }
            let allowed = try await decide(amount: 20)
            #expect(try allowed.decision() == ("allow", ["no rule objected"]))
            #expect(try allowed.object()["bundle"] as? String == "1.0.0")
            #expect(try allowed.object()["bundle_id"] as? String == id)
            let big = try await decide(amount: 500)
            #expect(try big.decision() == ("require_approval", ["refund above 100"]))

            // Anything but a draft is immutable.
            #expect(try await client.send(.patch, "/v1/tenants/acme/bundles/\(id)", json: #"{"notes":"x"}"#).status == .conflict)
            #expect(try await client.send(.post, "/v1/tenants/acme/bundles/\(id)/activate").status == .conflict)

            // A second version replaces the first, which is archived.
            let second = try await client.send(
                .post, "/v1/tenants/acme/bundles", json: bundleJSON(version: "1.1.0", source: "package warden\n\ndecision := false\n"))
            let secondID = try #require(try second.object()["id"] as? String)
            try await client.approveBundle(tenant: "acme", secondID)
            #expect(try await client.send(.post, "/v1/tenants/acme/bundles/\(secondID)/activate").status == .ok)
            #expect(try await demo.decide(client).decision() == ("deny", ["policy_deny"]))
            let first = try await client.send(.get, "/v1/tenants/acme/bundles/\(id)").object()
            #expect(first["status"] as? String == "archived")
            let active = try await client.send(.get, "/v1/tenants/acme/bundles?active_only=true").array("items")
            #expect(active.map { $0["version"] as? String } == ["1.1.0"])
            #expect(try await client.send(.get, "/v1/tenants/acme/bundles?version=1.0.0").array("items").count == 1)

            // Decisions name the bundle version that made them, and the log filters by it.
            let byVersion = try await client.send(.get, "/v1/tenants/acme/decisions?bundle=1.0.0").array("items")
            #expect(byVersion.count == 2)
            #expect(byVersion.allSatisfy { $0["bundle_id"] as? String == id })

            // Every change is audited.
            let audit = try await client.send(.get, "/v1/tenants/acme/audit-events?limit=50").array("items").compactMap { $0["action"] as? String }
            #expect(audit.filter { $0 == "bundle.created" }.count == 2)
            #expect(audit.contains("bundle.updated"))
            #expect(audit.filter { $0 == "bundle.activated" }.count == 2)
        }
    }

    @Test(arguments: Backend.available)
    func undefinedAndFailingPoliciesFollowTheContract(_ backend: Backend) async throws {
        try await TestApp.run(backend) { client in
            let demo = try await Demo.setUp(client)
            // Undefined entry point: the bundle's default effect, counted as no match.
            let source = #"""
                package warden

                decision := "allow" if input.request.order == 1

                decision := 1 / input.request.zero if input.request.order == 42
                """#
            let created = try await client.send(
                .post, "/v1/tenants/acme/bundles", json: bundleJSON(version: "2.0.0", source: source, extra: #","default_effect":"deny""#))
            let id = try #require(try created.object()["id"] as? String, "\(created.text)")
            try await client.approveBundle(tenant: "acme", id)
            #expect(try await client.send(.post, "/v1/tenants/acme/bundles/\(id)/activate").status == .ok)
            let noMatch = try await client.send(
                .post, "/v1/decide", token: demo.token, json: #"{"tool":"refund","action":"create","input":{"order":7}}"#)
            #expect(try noMatch.decision() == ("deny", ["no_match"]))
            // A runtime error denies (fail closed) with policy_error, counted.
            let errorsBefore = SharedMetrics.value(of: "warden_policy_errors_total", labels: #"tenant="acme""#)
            let failing = try await client.send(
                .post, "/v1/decide", token: demo.token, json: #"{"tool":"refund","action":"create","input":{"order":42,"zero":0}}"#)
            #expect(try failing.decision() == ("deny", ["policy_error"]))
            // A result outside the contract (a number) is a policy error too.
            let wrongType = try await client.send(
                .post, "/v1/decide", token: demo.token, json: #"{"tool":"refund","action":"create","input":{"order":42,"zero":2}}"#)
            #expect(try wrongType.decision() == ("deny", ["policy_error"]))
            // At least these two (tests running at the same time share the process's metrics and slug).
            #expect(SharedMetrics.value(of: "warden_policy_errors_total", labels: #"tenant="acme""#) >= errorsBefore + 2)
            // Enforcement mode: a deny answers 403 with the same body.
            let enforced = try await client.send(
                .post, "/v1/decide?enforce=true", token: demo.token, json: #"{"tool":"refund","action":"create","input":{"order":7}}"#)
            #expect(enforced.status == .forbidden)
            #expect(try enforced.decision() == ("deny", ["no_match"]))
            let allowed = try await client.send(
                .post, "/v1/decide?enforce=true", token: demo.token, json: #"{"tool":"refund","action":"create","input":{"order":1}}"#)
            #expect(allowed.status == .ok)
        }
    }

    @Test(arguments: Backend.available)
    func rolesAndTenantsAreRespected(_ backend: Backend) async throws {
        try await TestApp.run(backend) { client in
            _ = try await Demo.setUp(client)
            func key(_ role: String) async throws -> String {
                let created = try await client.send(.post, "/v1/api-keys", json: #"{"name":"\#(role)","role":"\#(role)","tenant":"acme"}"#)
                return try #require(try created.object()["key"] as? String, "\(created.text)")
            }
            let author = try await key("author")
            let operatorKey = try await key("operator")
            let created = try await client.send(.post, "/v1/tenants/acme/bundles", token: author, json: bundleJSON(version: "1.0.0"))
            #expect(created.status == .created, "\(created.text)")
            let id = try #require(try created.object()["id"] as? String)
            #expect(try await client.send(.post, "/v1/tenants/acme/bundles/\(id)/activate", token: author).status == .forbidden)
            #expect(
                try await client.send(.post, "/v1/tenants/acme/bundles", token: operatorKey, json: bundleJSON(version: "1.0.1")).status == .forbidden)
            try await client.approveBundle(tenant: "acme", id)
            #expect(try await client.send(.post, "/v1/tenants/acme/bundles/\(id)/activate", token: operatorKey).status == .ok)
            // Another tenant's bundle is not found.
            #expect(try await client.send(.post, "/v1/tenants", json: #"{"slug":"other"}"#).status == .created)
            #expect(try await client.send(.get, "/v1/tenants/other/bundles/\(id)").status == .notFound)
            #expect(try await client.send(.get, "/v1/tenants/acme/bundles/\(id)", token: author).status == .ok)
        }
    }
}

@Suite struct NativeRuleBundleTests {
    @Test(arguments: Backend.available)
    func rulesDecideAndLint(_ backend: Backend) async throws {
        try await TestApp.run(backend) { client in
            let demo = try await Demo.setUp(client)
            let invalid = try await client.send(
                .post, "/v1/tenants/acme/bundles", json: #"{"version":"1.0.0","rules":[{"id":"x","effect":"maybe"}]}"#)
            #expect(invalid.status == .unprocessableContent)
            let details = try #require(try invalid.object()["error"] as? [String: Any])["details"] as? [String: Any]
            #expect(details?["rule"] as? Int == 0)
            let rules = #"""
                [{"id":"big-refunds","tool":"refund","effect":"require_approval","priority":10,"reason":"refund above 100",
                  "conditions":[{"path":"input.request.amount","op":"gt","value":100}]},
                 {"id":"refunds","tool":"refund","effect":"allow","priority":5},
                 {"id":"small-refunds","tool":"refund","effect":"deny","priority":1,
                  "conditions":[{"path":"input.request.amount","op":"lt","value":1}]}]
                """#
            let created = try await client.send(.post, "/v1/tenants/acme/bundles", json: #"{"version":"1.0.0","rules":\#(rules)}"#)
            #expect(created.status == .created, "\(created.text)")
            let object = try created.object()
            #expect(object["entrypoint"] as? String == "data.warden.rules.decision")
            #expect(object["rule_count"] as? Int == 3)
            let id = try #require(object["id"] as? String)
            let lint = try await client.send(.get, "/v1/tenants/acme/bundles/\(id)/lint").object()
            let findings = try #require(lint["findings"] as? [[String: Any]])
            #expect(findings.map { $0["kind"] as? String } == ["unreachable"])
            #expect(findings.first?["rule"] as? String == "small-refunds")
            try await client.approveBundle(tenant: "acme", id)
            #expect(try await client.send(.post, "/v1/tenants/acme/bundles/\(id)/activate").status == .ok)
            let big = try await client.send(
                .post, "/v1/decide", token: demo.token, json: #"{"tool":"refund","action":"create","input":{"amount":500}}"#)
            #expect(try big.decision() == ("require_approval", ["refund above 100"]))
            let small = try await client.send(
                .post, "/v1/decide", token: demo.token, json: #"{"tool":"refund","action":"create","input":{"amount":5}}"#)
            #expect(try small.decision() == ("allow", ["rule:refunds"]))
        }
    }
}

@Suite struct SandboxEvaluationTests {
    @Test(arguments: Backend.available)
    func evaluateExplainsWithoutSideEffects(_ backend: Backend) async throws {
        try await TestApp.run(backend) { client in
            _ = try await Demo.setUp(client)
            let created = try await client.send(.post, "/v1/tenants/acme/bundles", json: bundleJSON(version: "1.0.0"))
            let draftID = try #require(try created.object()["id"] as? String)
            let before = try await client.send(.get, "/v1/tenants/acme/decisions").array("items").count

            // A draft can be tried before it decides anything.
            let tried = try await client.send(
                .post, "/v1/tenants/acme/evaluate",
                json: #"{"agent":"bot","tool":"refund","action":"create","input":{"amount":500},"bundle_id":"\#(draftID)"}"#)
            #expect(tried.status == .ok, "\(tried.text)")
            let answer = try tried.object()
            #expect(answer["effect"] as? String == "require_approval")
            #expect(answer["reasons"] as? [String] == ["refund above 100"])
            #expect((answer["obligations"] as? [String: Any])?["approvers"] as? Int == 1)
            let explanation = try #require(answer["explanation"] as? [String: Any])
            #expect((explanation["bundle"] as? [String: Any])?["status"] as? String == "draft")
            #expect(explanation["policy_result"] as? String == "decided")
            let rules = try #require(explanation["rules"] as? [[String: Any]])
            let decidingRule = try #require(rules.last { $0["rule"] as? String == "data.warden.decision" })
            #expect(decidingRule["file"] as? String == "policy/refunds.rego")
            #expect(decidingRule["line"] as? Int == 10, "the require_approval definition, not the default")
            #expect((explanation["input"] as? [String: Any])?["action"] as? String == "create")

            // No bundle active: the tenant's default answers, and the explanation says the policy was not asked.
            let live = try await client.send(
                .post, "/v1/tenants/acme/evaluate", json: #"{"agent":"bot","tool":"refund","action":"create"}"#
            ).object()
            #expect(live["reasons"] as? [String] == ["default_allow"])
            #expect((live["explanation"] as? [String: Any])?["policy_result"] is NSNull)

            // A check before the policy names itself.
            let short = try await client.send(
                .post, "/v1/tenants/acme/evaluate", json: #"{"agent":"bot","tool":"refund","action":"delete","bundle_id":"\#(draftID)"}"#
            )
            .object()
            #expect((short["explanation"] as? [String: Any])?["short_circuit"] as? String == "capability_violation")

            // Nothing was recorded.
            #expect(try await client.send(.get, "/v1/tenants/acme/decisions").array("items").count == before)
            #expect(
                try await client.send(.post, "/v1/tenants/acme/evaluate", json: #"{"agent":"ghost","tool":"refund","action":"create"}"#).status
                    == .notFound)
        }
    }
}
