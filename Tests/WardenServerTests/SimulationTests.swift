import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@testable import WardenServer

/// `POST …/bundles/{id}/simulate`: a draft re-evaluated against recorded decisions.
@Suite struct SimulationTests {
    @Test(arguments: Backend.available)
    func aDraftIsReplayedAgainstRecordedDecisions(_ backend: Backend) async throws {
        try await TestApp.run(backend) { client in
            let demo = try await Demo.setUp(client)
            let allow = "package warden\n\ndecision := {\"effect\": \"allow\", \"reasons\": [\"stable\"]}\n"
            let created = try await client.send(.post, "/v1/tenants/acme/bundles", json: bundleJSON(version: "1.0.0", source: allow))
            let stable = try #require(try created.object()["id"] as? String)
            try await client.approveBundle(tenant: "acme", stable)
            #expect(try await client.send(.post, "/v1/tenants/acme/bundles/\(stable)/activate").status == .ok)
            for amount in [10, 10, 10, 10, 10, 10, 80, 80, 80, 80] {
                let answer = try await client.send(
                    .post, "/v1/decide", token: demo.token, json: #"{"tool":"refund","action":"create","input":{"amount":\#(amount)}}"#)
                #expect(try answer.decision() == ("allow", ["stable"]))
            }
            let unknown = try await client.send(.post, "/v1/decide", token: demo.token, json: #"{"tool":"nope","action":"create"}"#)
            #expect(try unknown.decision() == ("deny", ["unknown_tool"]))

            let strict = """
                package warden

                default decision := {"effect": "allow", "reasons": ["small"]}

                decision := {"effect": "deny", "reasons": ["over 50"]} if input.request.amount > 50
                """
            let draft = try await client.send(.post, "/v1/tenants/acme/bundles", json: bundleJSON(version: "1.1.0", source: strict))
            let draftID = try #require(try draft.object()["id"] as? String)
            let report = try await client.send(.post, "/v1/tenants/acme/bundles/\(draftID)/simulate", json: #"{"limit":1000}"#)
            #expect(report.status == .ok, "\(report.text)")
            let figures = try report.object()
            #expect(figures["considered"] as? Int == 11, "\(figures)")
            #expect(figures["evaluated"] as? Int == 10)
            #expect((figures["skipped"] as? [String: Any])?["refused_before_policy"] as? Int == 1)
            #expect(figures["changed"] as? Int == 4)
            #expect(figures["unchanged"] as? Int == 6)
            #expect(figures["changes"] as? [String: Int] == ["allow->deny": 4])
            #expect(figures["simulated_effects"] as? [String: Int] == ["allow": 6, "deny": 4])
            let examples = try #require(figures["examples"] as? [[String: Any]])
            #expect(examples.count == figures["changed"] as? Int)
            #expect(examples.allSatisfy { ($0["simulated"] as? [String: Any])?["reasons"] as? [String] == ["over 50"] })
            #expect(examples.allSatisfy { ($0["recorded"] as? [String: Any])?["bundle"] as? String == "1.0.0" })
            // The draft changed nothing: no records, still a draft.
            #expect(try await client.send(.get, "/v1/tenants/acme/bundles/\(draftID)").object()["status"] as? String == "draft")

            // A limit reads that many; a window in the future reads none; bad input is a 400.
            let limited = try await client.send(.post, "/v1/tenants/acme/bundles/\(draftID)/simulate", json: #"{"limit":3}"#).object()
            #expect(limited["considered"] as? Int == 3)
            let future = try await client.send(
                .post, "/v1/tenants/acme/bundles/\(draftID)/simulate", json: #"{"from":"2999-01-01T00:00:00Z"}"#
            ).object()
            #expect(future["considered"] as? Int == 0)
            #expect(
                try await client.send(.post, "/v1/tenants/acme/bundles/\(draftID)/simulate", json: #"{"limit":0}"#).errorCode() == "invalid_field")
            #expect(
                try await client.send(.post, "/v1/tenants/acme/bundles/\(draftID)/simulate", json: #"{"from":"yesterday"}"#).errorCode()
                    == "invalid_field")
        }
    }
}
