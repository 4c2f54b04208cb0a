import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import WardenCore

@testable import WardenServer

/// Runs: an agent records what it did, step by step; decisions and approvals made with the run's id
/// are linked in; the whole run reads back in order, as JSON or JSON lines; secrets are never stored.
@Suite struct RunAPITests {
    @Test(arguments: Backend.available)
    func anAgentRecordsARunAndReadsItBackInOrder(_ backend: Backend) async throws {
        try await TestApp.run(backend) { client in
            let demo = try await Demo.setUp(client, approvalLevel: "manual_approve")
            let created = try await client.send(
                .post, "/v1/tenants/acme/runs", token: demo.token, json: #"{"goal":"refund order 42","model":"gpt-x","plan":["look up","refund"]}"#)
            #expect(created.status == .created, "\(created.text)")
            let run = try created.object()
            let runID = try #require(run["id"] as? String)
            #expect(run["agent"] as? String == "bot" && run["status"] as? String == "running")

            func step(_ json: String) async throws -> TestResponse {
                try await client.send(.post, "/v1/tenants/acme/runs/\(runID)/steps", token: demo.token, json: json)
            }
            #expect(try await step(#"{"kind":"plan","plan":["look up","refund"]}"#).status == .created)
            let model = try await step(
                #"{"kind":"model_call","model":"gpt-x","prompt":"refund?","response":"yes","tokens":{"in":12,"out":3},"started_at":"2026-11-23T10:00:00Z","ended_at":"2026-11-23T10:00:01Z"}"#
            )
            #expect(model.status == .created, "\(model.text)")
            #expect(try model.object()["sequence"] as? Int == 2)
            // A decision under the run opens an approval request under it too.
            let decided = try await client.send(
                .post, "/v1/decide", token: demo.token, json: #"{"tool":"refund","action":"create","input":{"order":42},"run_id":"\#(runID)"}"#)
            let decisionID = try #require(try decided.object()["decision_id"] as? String)
            let approvalID = try #require(try decided.object()["approval_id"] as? String)
            let call = try await step(
                #"""
                {"kind":"tool_call","tool":"refund","action":"create","input":{"order":42,"api_key":"sk-live-9"},
                 "output":{"refund_id":"r-1","email":"ann@example.com"},"decision_id":"\#(decisionID)","approval_id":"\#(approvalID)",
                 "idempotency_key":"refund-42","compensation":"refund.cancel",
                 "labels":{"input.api_key":"secret","output.email":"pii"}}
                """#)
            #expect(call.status == .created, "\(call.text)")
            #expect(!call.text.contains("sk-live-9") && call.text.contains("[redacted secret hmac-sha256:"))
            #expect(try await step(#"{"kind":"note","message":"done"}"#).status == .created)

            let whole = try await client.send(.get, "/v1/tenants/acme/runs/\(runID)", token: demo.token).object()
            let steps = try #require(whole["steps"] as? [[String: Any]])
            #expect(steps.compactMap { $0["kind"] as? String } == ["plan", "model_call", "tool_call", "note"])
            #expect(steps.compactMap { $0["sequence"] as? Int } == [1, 2, 3, 4])
            #expect((steps[2]["labels"] as? [String: String]) == ["input.api_key": "secret", "output.email": "pii"])
            #expect((whole["decisions"] as? [[String: Any]])?.first?["id"] as? String == decisionID)
            #expect((whole["approvals"] as? [[String: Any]])?.first?["id"] as? String == approvalID)
            #expect((whole["approvals"] as? [[String: Any]])?.first?["run_id"] as? String == runID)

            let lines = try await client.send(.get, "/v1/tenants/acme/runs/\(runID)?format=jsonl", token: demo.token)
            #expect(lines.headers[.contentType]?.hasPrefix("application/x-ndjson") == true)
            let types = lines.text.split(separator: "\n").compactMap {
                (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["type"] as? String
            }
            #expect(types.first == "run" && types.count == 7, "\(types)")
            #expect(Set(types.dropFirst()) == ["step", "decision", "approval"])
            #expect(!lines.text.contains("sk-live-9"))

            let completed = try await client.send(.post, "/v1/tenants/acme/runs/\(runID)/complete", token: demo.token, json: #"{"reason":"ok"}"#)
            #expect(try completed.object()["status"] as? String == "completed")
            #expect(try await step(#"{"kind":"note","message":"late"}"#).errorCode() == "run_ended")
            let again = try await client.send(.post, "/v1/tenants/acme/runs/\(runID)/complete", token: demo.token)
            #expect(try again.errorCode() == "run_ended")
        }
    }

    @Test(arguments: Backend.available)
    func badStepsOwnersAndCancelling(_ backend: Backend) async throws {
        try await TestApp.run(backend) { client in
            let demo = try await Demo.setUp(client)
            let runID = try #require(
                try await client.send(.post, "/v1/tenants/acme/runs", json: #"{"agent":"bot","goal":"g"}"#).object()["id"] as? String)
            #expect(try await client.send(.post, "/v1/tenants/acme/runs", json: #"{"goal":"g"}"#).errorCode() == "missing_field")
            #expect(try await client.send(.post, "/v1/tenants/acme/runs", json: #"{"agent":"ghost","goal":"g"}"#).errorCode() == "agent_not_found")
            #expect(try await client.send(.post, "/v1/tenants/acme/runs", json: #"{"agent":"bot","goal":" "}"#).errorCode() == "missing_field")
            func step(_ json: String) async throws -> String {
                try await client.send(.post, "/v1/tenants/acme/runs/\(runID)/steps", json: json).errorCode()
            }
            #expect(try await step(#"{"kind":"teleport"}"#) == "invalid_field")
            #expect(try await step(#"{"message":"no kind"}"#) == "missing_field")
            #expect(try await step(#"{"kind":"tool_call"}"#) == "missing_field")
            #expect(try await step(#"{"kind":"note","message":"m","tool":"x"}"#) == "invalid_field")
            #expect(try await step(#"{"kind":"note","message":"m","labels":{"secret.x":"pii"}}"#) == "invalid_field")
            #expect(
                try await step(#"{"kind":"note","message":"m","started_at":"2026-01-02T00:00:00Z","ended_at":"2026-01-01T00:00:00Z"}"#)
                    == "invalid_field")
            #expect(try await client.send(.get, "/v1/tenants/acme/runs/not-a-uuid").errorCode() == "run_not_found")

            // Another agent's token does not see the run; another tenant's key does not see the tenant.
            _ = try await client.send(.post, "/v1/tenants/acme/agents", json: #"{"agent_id":"other"}"#)
            let other = try #require(
                try await client.send(.post, "/v1/tenants/acme/agents/other/tokens", json: #"{}"#).object()["token"] as? String)
            #expect(try await client.send(.get, "/v1/tenants/acme/runs/\(runID)", token: other).errorCode() == "run_not_found")
            #expect(try await client.send(.get, "/v1/tenants/acme/runs", token: other).array("items").isEmpty)
            #expect(try await client.send(.get, "/v1/tenants/acme/runs", token: demo.token).array("items").count == 1)
            _ = try await client.send(.post, "/v1/tenants", json: #"{"slug":"beta"}"#)
            let beta = try #require(
                try await client.send(.post, "/v1/api-keys", json: #"{"name":"b","role":"admin","tenant":"beta"}"#).object()["key"] as? String)
            #expect(try await client.send(.get, "/v1/tenants/acme/runs/\(runID)", token: beta).status == .notFound)

            // Cancelling: operators and admins, with a reason; audited.
            let approver = try #require(
                try await client.send(.post, "/v1/api-keys", json: #"{"name":"a","role":"approver","tenant":"acme"}"#).object()["key"] as? String)
            #expect(
                try await client.send(.post, "/v1/tenants/acme/runs/\(runID)/cancel", token: approver, json: #"{"reason":"x"}"#).status
                    == .forbidden)
            #expect(try await client.send(.post, "/v1/tenants/acme/runs/\(runID)/cancel", json: #"{}"#).errorCode() == "missing_field")
            let cancelled = try await client.send(.post, "/v1/tenants/acme/runs/\(runID)/cancel", json: #"{"reason":"runaway"}"#).object()
            #expect(cancelled["status"] as? String == "cancelled" && cancelled["end_reason"] as? String == "runaway")
            let audit = try await client.send(.get, "/v1/tenants/acme/audit-events?action=run.cancelled").array("items")
            #expect(audit.count == 1)
            #expect(try await client.send(.get, "/v1/tenants/acme/runs?status=cancelled").array("items").count == 1)
            #expect(try await client.send(.get, "/v1/tenants/acme/runs?status=running").array("items").isEmpty)
            #expect(try await client.send(.get, "/v1/tenants/acme/runs?agent=other").array("items").isEmpty)
        }
    }

    /// Notes and governed exceptions: an override of a denied decision needs a justification and an
    /// operator, records the policy version it overrode, is audited, and joins the ledger.
    @Test(arguments: Backend.available)
    func annotationsAndGovernedExceptions(_ backend: Backend) async throws {
        try await TestApp.run(backend) { client in
            let demo = try await Demo.setUp(client)
            let runID = try #require(
                try await client.send(.post, "/v1/tenants/acme/runs", token: demo.token, json: #"{"goal":"g"}"#).object()["id"] as? String)
            func decide(_ action: String) async throws -> String {
                let answer = try await client.send(
                    .post, "/v1/decide", token: demo.token, json: #"{"tool":"refund","action":"\#(action)","run_id":"\#(runID)"}"#)
                return try #require(try answer.object()["decision_id"] as? String)
            }
            let denied = try await decide("delete")  // not a capability: denied
            let allowed = try await decide("create")
            func annotate(_ json: String, token: String? = TestApp.adminToken) async throws -> TestResponse {
                try await client.send(.post, "/v1/tenants/acme/runs/\(runID)/annotations", token: token, json: json)
            }
            let note = try await annotate(#"{"text":"looked at it, INC-2026-0042"}"#)
            let noteKind = try note.object()["kind"] as? String
            #expect(note.status == .created && noteKind == "note", "\(note.text)")
            let approver = try #require(
                try await client.send(.post, "/v1/api-keys", json: #"{"name":"a","role":"approver","tenant":"acme"}"#).object()["key"] as? String)
            #expect(
                try await annotate(#"{"kind":"exception","decision_id":"\#(denied)","justification":"j"}"#, token: approver).status == .forbidden)
            #expect(try await annotate(#"{"kind":"exception","decision_id":"\#(denied)"}"#).errorCode() == "missing_field")
            #expect(try await annotate(#"{"kind":"exception","justification":"j"}"#).errorCode() == "missing_field")
            #expect(
                try await annotate(#"{"kind":"exception","decision_id":"\#(allowed)","justification":"j"}"#).errorCode() == "invalid_field")
            #expect(try await annotate(#"{"text":"t"}"#, token: demo.token).status == .forbidden)
            let exception = try await annotate(
                #"{"kind":"exception","decision_id":"\#(denied)","justification":"customer escalation, approved by the duty manager"}"#)
            #expect(exception.status == .created, "\(exception.text)")
            #expect(try exception.object()["policy_version"] as? String == "none", "no bundle decided: the tenant default")
            let whole = try await client.send(.get, "/v1/tenants/acme/runs/\(runID)").object()
            #expect((whole["annotations"] as? [[String: Any]])?.compactMap { $0["kind"] as? String } == ["note", "exception"])
            #expect(try await client.send(.get, "/v1/tenants/acme/audit-events?action=run.exception").array("items").count == 1)
            let ledger = try await client.send(.get, "/v1/tenants/acme/ledger?limit=500").array("items")
            #expect(ledger.filter { $0["kind"] as? String == "note" }.count == 2)
            #expect(try await client.send(.get, "/v1/tenants/acme/ledger/verify").object()["valid"] as? Bool == true)
        }
    }
}
