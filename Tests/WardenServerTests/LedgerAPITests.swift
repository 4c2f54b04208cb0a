import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import WardenCore

@testable import WardenServer

/// Decisions, approvals (each change), audit events, runs and run steps join the tenant's chain as
/// they are written; the chain verifies through the API; auditors may check it, approvers may not.
@Suite struct LedgerAPITests {
    @Test(arguments: Backend.available)
    func everyRecordJoinsTheChainAndItVerifies(_ backend: Backend) async throws {
        try await TestApp.run(backend) { client in
            let demo = try await Demo.setUp(client, approvalLevel: "manual_approve")
            let runID = try #require(
                try await client.send(.post, "/v1/tenants/acme/runs", token: demo.token, json: #"{"goal":"g"}"#).object()["id"] as? String)
            _ = try await client.send(.post, "/v1/tenants/acme/runs/\(runID)/steps", token: demo.token, json: #"{"kind":"note","message":"m"}"#)
            let decided = try await client.send(
                .post, "/v1/decide", token: demo.token, json: #"{"tool":"refund","action":"create","input":{"order":1},"run_id":"\#(runID)"}"#)
            let approvalID = try #require(try decided.object()["approval_id"] as? String)
            let approver = try #require(
                try await client.send(.post, "/v1/api-keys", json: #"{"name":"a","role":"approver","tenant":"acme"}"#).object()["key"] as? String)
            #expect(try await client.send(.post, "/v1/tenants/acme/approvals/\(approvalID)/approve", token: approver).status == .ok)
            _ = try await client.send(.post, "/v1/tenants/acme/runs/\(runID)/complete", token: demo.token)

            var entries: [[String: Any]] = []
            var after = 0
            while true {
                let page = try await client.send(.get, "/v1/tenants/acme/ledger?after=\(after)&limit=500").object()
                let items = try #require(page["items"] as? [[String: Any]])
                entries += items
                guard let next = page["next_after"] as? Int else { break }
                after = next
            }
            let kinds = entries.compactMap { $0["kind"] as? String }
            #expect(Set(kinds) == ["audit", "run", "run_step", "decision", "approval"], "\(kinds)")
            #expect(entries.compactMap { $0["sequence"] as? Int } == Array(1...entries.count))
            // The approval request: opened, then approved, two entries; the run: opened, then completed.
            #expect(entries.filter { $0["record_id"] as? String == approvalID }.count == 2)
            #expect(entries.filter { $0["record_id"] as? String == runID }.count == 2)
            let verified = try await client.send(.get, "/v1/tenants/acme/ledger/verify").object()
            #expect(verified["valid"] as? Bool == true && verified["entries"] as? Int == entries.count, "\(verified)")
            #expect(verified["head"] as? Int == entries.count)

            let auditor = try #require(
                try await client.send(.post, "/v1/api-keys", json: #"{"name":"au","role":"auditor","tenant":"acme"}"#).object()["key"] as? String)
            #expect(try await client.send(.get, "/v1/tenants/acme/ledger/verify", token: auditor).status == .ok)
            #expect(try await client.send(.get, "/v1/tenants/acme/ledger/verify", token: approver).status == .forbidden)
            #expect(try await client.send(.get, "/v1/tenants/acme/ledger?after=-1").errorCode() == "invalid_field")
        }
    }
}
