import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@testable import WardenServer

/// Approval requests over HTTP: from a decision, directly, votes, two-person, idempotency, long-poll.
@Suite struct ApprovalAPITests {
    static func key(_ client: some TestClientProtocol, _ role: String, _ name: String) async throws -> String {
        let created = try await client.send(.post, "/v1/api-keys", json: #"{"name":"\#(name)","role":"\#(role)","tenant":"acme"}"#)
        return try #require(try created.object()["key"] as? String, "\(created.text)")
    }

    @Test(arguments: Backend.available)
    func aRequireApprovalDecisionOpensARequestThatAnApproverDecides(_ backend: Backend) async throws {
        try await TestApp.run(backend) { client in
            let demo = try await Demo.setUp(client, approvalLevel: "manual_approve")
            let decided = try await demo.decide(client)
            #expect(try decided.decision() == ("require_approval", ["default_allow", "approval_required"]))
            let approvalID = try #require(try decided.object()["approval_id"] as? String)
            // The agent may read (and wait on) its own request.
            let seen = try await client.send(.get, "/v1/tenants/acme/approvals/\(approvalID)", token: demo.token)
            #expect(seen.status == .ok, "\(seen.text)")
            let pending = try seen.object()
            #expect(pending["status"] as? String == "pending")
            #expect(pending["decision_id"] as? String == (try decided.object()["decision_id"] as? String))
            #expect(pending["requested_by"] as? String == "agent:bot")
            #expect((pending["input"] as? [String: Any])?["order"] as? Int == 42)

            // An operator may read but not decide; an approver decides, with a comment kept in the history.
            let operatorKey = try await Self.key(client, "operator", "ops")
            #expect(try await client.send(.post, "/v1/tenants/acme/approvals/\(approvalID)/approve", token: operatorKey).status == .forbidden)
            let approver = try await Self.key(client, "approver", "alice")
            let waiting = Task { try await client.send(.get, "/v1/tenants/acme/approvals/\(approvalID)?wait=10", token: demo.token) }
            try await Task.sleep(for: .milliseconds(300))
            let approved = try await client.send(
                .post, "/v1/tenants/acme/approvals/\(approvalID)/approve", token: approver, json: #"{"comment":"refund checked"}"#)
            #expect(approved.status == .ok, "\(approved.text)")
            #expect(try approved.object()["status"] as? String == "approved")
            // The long-poll returned with the outcome.
            let started = ContinuousClock.now
            let woken = try await waiting.value
            #expect(ContinuousClock.now - started < .seconds(5))
            #expect(try woken.object()["status"] as? String == "approved")
            let history = try #require(try approved.object()["status_history"] as? [[String: Any]])
            #expect(history.map { $0["status"] as? String } == ["pending", "approved"])
            #expect(history.last?["comment"] as? String == "refund checked")
            // Resolved means final.
            let again = try await client.send(.post, "/v1/tenants/acme/approvals/\(approvalID)/reject", token: approver)
            #expect(again.status == .conflict)
            #expect(try again.errorCode() == "approval_resolved")
            let approvedList = try await client.send(.get, "/v1/tenants/acme/approvals?status=approved").array("items")
            #expect(approvedList.map { $0["id"] as? String } == [approvalID])
            #expect(try await client.send(.get, "/v1/tenants/acme/approvals?status=maybe").errorCode() == "invalid_field")
            let audit = try await client.send(.get, "/v1/tenants/acme/audit-events?limit=50").array("items").compactMap { $0["action"] as? String }
            #expect(audit.contains("approval.created") && audit.contains("approval.approved"))
        }
    }

    @Test(arguments: Backend.available)
    func twoPersonSelfApprovalAndIdempotency(_ backend: Backend) async throws {
        try await TestApp.run(backend) { client in
            _ = try await Demo.setUp(client)
            let body = #"{"agent":"bot","tool":"refund","action":"create","input":{"order":7},"reason":"big refund","level":"two_person"}"#
            let headers: HTTPFields = [HTTPField.Name("Idempotency-Key")!: "refund-7"]
            let created = try await client.send(.post, "/v1/tenants/acme/approvals", json: body, headers: headers)
            #expect(created.status == .created, "\(created.text)")
            let id = try #require(try created.object()["id"] as? String)
            #expect(try created.object()["approvals_needed"] as? Int == 2)
            // The same key again: the same request, 200. The same key for something else: 409.
            let retried = try await client.send(.post, "/v1/tenants/acme/approvals", json: body, headers: headers)
            #expect(retried.status == .ok)
            #expect(try retried.object()["id"] as? String == id)
            let clash = try await client.send(
                .post, "/v1/tenants/acme/approvals", json: body.replacingOccurrences(of: "\"order\":7", with: "\"order\":8"), headers: headers)
            #expect(try clash.errorCode() == "idempotency_conflict")

            // The admin asked, so the admin may not approve.
            let own = try await client.send(.post, "/v1/tenants/acme/approvals/\(id)/approve")
            #expect(own.status == .forbidden)
            let alice = try await Self.key(client, "approver", "alice")
            let bob = try await Self.key(client, "approver", "bob")
            let first = try await client.send(.post, "/v1/tenants/acme/approvals/\(id)/approve", token: alice).object()
            #expect(first["status"] as? String == "pending")
            #expect((first["approvals"] as? [String])?.count == 1)
            #expect(try await client.send(.post, "/v1/tenants/acme/approvals/\(id)/approve", token: alice).errorCode() == "approval_resolved")
            let second = try await client.send(.post, "/v1/tenants/acme/approvals/\(id)/approve", token: bob).object()
            #expect(second["status"] as? String == "approved")

            // A rejection resolves at once.
            let other = try await client.send(.post, "/v1/tenants/acme/approvals", json: #"{"agent":"bot","tool":"refund","action":"create"}"#)
            let otherID = try #require(try other.object()["id"] as? String)
            let rejected = try await client.send(
                .post, "/v1/tenants/acme/approvals/\(otherID)/reject", token: bob, json: #"{"comment":"no ticket"}"#
            ).object()
            #expect(rejected["status"] as? String == "rejected")
            // Bad input: unknown agent, unknown tool, a bad level, a bad expiry.
            let badAgent = try await client.send(.post, "/v1/tenants/acme/approvals", json: #"{"agent":"ghost","tool":"refund","action":"x"}"#)
            #expect(try badAgent.errorCode() == "agent_not_found")
            let badTool = try await client.send(.post, "/v1/tenants/acme/approvals", json: #"{"agent":"bot","tool":"nope","action":"x"}"#)
            #expect(try badTool.errorCode() == "tool_not_found")
            let badLevel = try await client.send(
                .post, "/v1/tenants/acme/approvals", json: #"{"agent":"bot","tool":"refund","action":"x","level":"three_person"}"#)
            #expect(try badLevel.errorCode() == "invalid_field")
            let badExpiry = try await client.send(
                .post, "/v1/tenants/acme/approvals", json: #"{"agent":"bot","tool":"refund","action":"x","expires_in_seconds":0}"#)
            #expect(try badExpiry.errorCode() == "invalid_field")
            #expect(try await client.send(.get, "/v1/tenants/acme/approvals/\(UUID())").errorCode() == "approval_not_found")

            // Mass reject: admins only, with a reason; every pending request, nothing else.
            for order in 1...3 {
                let opened = try await client.send(
                    .post, "/v1/tenants/acme/approvals", json: #"{"agent":"bot","tool":"refund","action":"create","input":{"n":\#(order)}}"#)
                #expect(opened.status == .created)
            }
            #expect(
                try await client.send(.post, "/v1/tenants/acme/approvals/reject-pending", token: alice, json: #"{"reason":"x"}"#).status == .forbidden
            )
            #expect(
                try await client.send(.post, "/v1/tenants/acme/approvals/reject-pending", json: #"{"reason":"  "}"#).errorCode() == "missing_field")
            let mass = try await client.send(.post, "/v1/tenants/acme/approvals/reject-pending", json: #"{"reason":"approver outage drill"}"#)
            #expect(try mass.object()["rejected"] as? Int == 3, "\(mass.text)")
            #expect(try await client.send(.get, "/v1/tenants/acme/approvals?status=pending").array("items").isEmpty)
            #expect(try await client.send(.get, "/v1/tenants/acme/approvals?status=approved").array("items").count == 1)
            let audit = try await client.send(.get, "/v1/tenants/acme/audit-events?limit=100").array("items")
            #expect(audit.contains { $0["action"] as? String == "approval.mass_rejected" && $0["reason"] as? String == "approver outage drill" })
        }
    }

    @Test(arguments: Backend.available)
    func theTenantSwitchForcesManualApprovalEverywhere(_ backend: Backend) async throws {
        try await TestApp.run(backend) { client in
            let demo = try await Demo.setUp(client)  // the tool auto-approves
            #expect(try await demo.decide(client).decision() == ("allow", ["default_allow"]))
            let on = try await client.send(.patch, "/v1/tenants/acme", json: #"{"force_manual_approval":true,"reason":"approver incident"}"#)
            #expect(on.status == .ok, "\(on.text)")
            #expect(try on.object()["force_manual_approval"] as? Bool == true)
            let forced = try await demo.decide(client)
            #expect(try forced.decision() == ("require_approval", ["default_allow", "approval_required"]))
            let approvalID = try #require(try forced.object()["approval_id"] as? String)
            #expect(try await client.send(.get, "/v1/tenants/acme/approvals/\(approvalID)").object()["level"] as? String == "manual_approve")
            #expect(try await client.send(.patch, "/v1/tenants/acme", json: #"{"force_manual_approval":"yes"}"#).errorCode() == "invalid_field")
            #expect(try await client.send(.patch, "/v1/tenants/acme", json: #"{"reason":"nothing"}"#).errorCode() == "missing_field")
            #expect(try await client.send(.patch, "/v1/tenants/acme", json: #"{"force_manual_approval":false}"#).status == .ok)
            #expect(try await demo.decide(client).decision() == ("allow", ["default_allow"]))
            let audit = try await client.send(.get, "/v1/tenants/acme/audit-events?limit=50").array("items")
            let switches = audit.filter { ($0["details"] as? [String: Any])?["force_manual_approval"] != nil }
            #expect(switches.map { ($0["details"] as? [String: Any])?["force_manual_approval"] as? String } == ["false", "true"])
        }
    }
}
