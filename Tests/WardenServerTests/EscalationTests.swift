import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing
import WardenCore

@testable import WardenServer

/// A wall clock the test moves forward.
final class AdjustableClock: WallClock {
    private let offset = Mutex<TimeInterval>(0)
    func now() -> Date { Date().addingTimeInterval(offset.withLock { $0 }) }
    func advance(_ seconds: TimeInterval) { offset.withLock { $0 += seconds } }
}

/// Escalation and expiry of approval requests, one pass at a time (`escalate-now`).
@Suite struct EscalationTests {
    @Test(arguments: Backend.available)
    func pendingRequestsEscalateThenExpire(_ backend: Backend) async throws {
        let clock = AdjustableClock()
        let dependencies = ApplicationDependencies(clock: clock, announceGeneratedKey: { _ in })
        let settings: (inout WardenConfiguration) -> Void = { $0.approvalEscalateAfter = 600 }
        try await TestApp.run(backend, dependencies: dependencies, configure: settings) { client in
            _ = try await Demo.setUp(client)
            let opened = try await client.send(
                .post, "/v1/tenants/acme/approvals", json: #"{"agent":"bot","tool":"refund","action":"create","expires_in_seconds":1800}"#)
            let id = try #require(try opened.object()["id"] as? String)
            let approver = try #require(
                try await client.send(.post, "/v1/api-keys", json: #"{"name":"a","role":"approver","tenant":"acme"}"#).object()["key"] as? String)
            func pass() async throws -> [String: Any] {
                try await client.send(.post, "/v1/tenants/acme/approvals/escalate-now").object()
            }
            // Nothing is due yet; only admins may run a pass.
            #expect(try await pass()["escalated"] as? Int == 0)
            #expect(try await client.send(.post, "/v1/tenants/acme/approvals/escalate-now", token: approver).status == .forbidden)
            // Ten minutes on: escalated, still open to approvers.
            clock.advance(601)
            let first = try await pass()
            #expect(first["escalated"] as? Int == 1 && first["expired"] as? Int == 0, "\(first)")
            let escalated = try await client.send(.get, "/v1/tenants/acme/approvals/\(id)").object()
            #expect(escalated["status"] as? String == "escalated")
            #expect((escalated["status_history"] as? [[String: Any]])?.last?["actor"] as? String == "system:escalation")
            #expect(try await client.send(.get, "/v1/tenants/acme/approvals?status=escalated").array("items").count == 1)
            // Past its expiry: expired (denied), and final.
            clock.advance(1200)
            let second = try await pass()
            #expect(second["expired"] as? Int == 1, "\(second)")
            #expect(try await client.send(.get, "/v1/tenants/acme/approvals/\(id)").object()["status"] as? String == "expired")
            let late = try await client.send(.post, "/v1/tenants/acme/approvals/\(id)/approve", token: approver)
            #expect(try late.errorCode() == "approval_resolved")
            // An escalated request can still be approved.
            let another = try await client.send(.post, "/v1/tenants/acme/approvals", json: #"{"agent":"bot","tool":"refund","action":"create"}"#)
            let anotherID = try #require(try another.object()["id"] as? String)
            clock.advance(601)
            #expect(try await pass()["escalated"] as? Int == 1)
            let approved = try await client.send(.post, "/v1/tenants/acme/approvals/\(anotherID)/approve", token: approver).object()
            #expect(approved["status"] as? String == "approved")
            let audit = try await client.send(.get, "/v1/tenants/acme/audit-events?limit=100").array("items").compactMap { $0["action"] as? String }
            #expect(audit.filter { $0 == "approval.escalated" }.count == 2)
            #expect(audit.contains("approval.expired"))
        }
    }
}
