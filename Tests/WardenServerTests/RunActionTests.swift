import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Synchronization
import Testing
import WardenCore

@testable import WardenServer

/// A live tool endpoint: keeps every call (path, headers, body). `/refund` answers a refund,
/// `/refund-v2` a different one, `/cancel` accepts, `/broken` answers 500.
final class ToolEndpoint: Sendable {
    struct Call: Sendable {
        var path: String
        var headers: HTTPFields
        var body: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]) ?? [:] }
        var text: String
    }
    let calls = Mutex<[Call]>([])

    func received(_ path: String) -> [Call] { calls.withLock { $0.filter { $0.path == path } } }

    static func run(_ body: @escaping @Sendable (Int, ToolEndpoint) async throws -> Void) async throws {
        let endpoint = ToolEndpoint()
        let router = Router()
        let answers = [
            "/refund": (HTTPResponse.Status.ok, #"{"refund_id":"r-1"}"#), "/refund-v2": (.ok, #"{"refund_id":"r-2"}"#),
            "/cancel": (.ok, #"{"cancelled":true}"#), "/broken": (.internalServerError, #"{"error":"down"}"#),
        ]
        for (path, answer) in answers {
            router.post(RouterPath(path)) { request, _ -> Response in
                let buffer = try await request.body.collect(upTo: 1 << 20)
                endpoint.calls.withLock { $0.append(Call(path: path, headers: request.headers, text: String(buffer: buffer))) }
                return Response(
                    status: answer.0, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: answer.1)))
            }
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in try await body(try #require(client.port), endpoint) }
    }
}

@Suite struct RunActionTests {
    /// Registers a tool with an endpoint (and maybe a compensation).
    static func tool(_ client: some TestClientProtocol, _ name: String, endpoint: String, compensation: String? = nil) async throws {
        let extra = compensation.map { #","compensation":"\#($0)""# } ?? ""
        let created = try await client.send(
            .post, "/v1/tenants/acme/tools",
            json: #"{"name":"\#(name)","description":"d","risk":"low","capabilities":["create","compensate"],"endpoint":"\#(endpoint)"\#(extra)}"#)
        #expect(created.status == .created, "\(created.text)")
    }

    /// Rollback: completed tool calls are compensated newest first through their compensating tool's
    /// endpoint (signed, with an idempotency key per call); a call without compensation is reported as
    /// remaining, one never completed is skipped, a failing endpoint is recorded as failed; a second
    /// rollback retries only what did not succeed; everything joins the ledger and is audited.
    @Test(arguments: Backend.available)
    func rollbackCompensatesInReverseOrderAndRecordsEveryOutcome(_ backend: Backend) async throws {
        try await ToolEndpoint.run { port, endpoint in
            try await TestApp.run(backend) { client in
                let demo = try await Demo.setUp(client)
                try await Self.tool(client, "refund.cancel", endpoint: "http://127.0.0.1:\(port)/cancel")
                try await Self.tool(client, "mail.recall", endpoint: "http://127.0.0.1:\(port)/broken")
                try await Self.tool(client, "ship", endpoint: "http://127.0.0.1:\(port)/refund", compensation: "refund.cancel")
                let runID = try #require(
                    try await client.send(.post, "/v1/tenants/acme/runs", token: demo.token, json: #"{"goal":"g"}"#).object()["id"] as? String)
                func step(_ json: String) async throws {
                    let answer = try await client.send(.post, "/v1/tenants/acme/runs/\(runID)/steps", token: demo.token, json: json)
                    #expect(answer.status == .created, "\(answer.text)")
                }
                let done = #""started_at":"2026-11-24T00:00:00Z","ended_at":"2026-11-24T00:00:01Z""#
                try await step(#"{"kind":"tool_call","tool":"refund","input":{"order":1},"compensation":"refund.cancel",\#(done)}"#)
                try await step(
                    #"{"kind":"tool_call","tool":"mail","input":{"to":"a"},"compensation":{"tool":"mail.recall","input":{"id":7}},\#(done)}"#)
                try await step(#"{"kind":"tool_call","tool":"audit.write","input":{},\#(done)}"#)
                try await step(#"{"kind":"tool_call","tool":"ship","input":{"box":2},\#(done)}"#)
                try await step(#"{"kind":"tool_call","tool":"refund","input":{"order":2},"compensation":"refund.cancel"}"#)
                try await step(#"{"kind":"note","message":"x"}"#)

                // Operators and admins only; a reason is required.
                #expect(
                    try await client.send(.post, "/v1/tenants/acme/runs/\(runID)/rollback", token: demo.token, json: #"{"reason":"r"}"#).status
                        == .forbidden)
                #expect(try await client.send(.post, "/v1/tenants/acme/runs/\(runID)/rollback", json: "{}").errorCode() == "missing_field")
                #expect(
                    try await client.send(.post, "/v1/tenants/acme/runs/\(UUID().uuidString.lowercased())/rollback", json: #"{"reason":"r"}"#)
                        .errorCode() == "run_not_found")

                let first = try await client.send(.post, "/v1/tenants/acme/runs/\(runID)/rollback", json: #"{"reason":"incident 7"}"#)
                #expect(first.status == .ok, "\(first.text)")
                let items = try #require(try first.object()["items"] as? [[String: Any]])
                #expect(items.compactMap { $0["step_sequence"] as? Int } == [5, 4, 3, 2, 1], "newest first")
                #expect(items.compactMap { $0["status"] as? String } == ["skipped", "succeeded", "not_compensable", "failed", "succeeded"])
                #expect(items[1]["compensation_tool"] as? String == "refund.cancel", "the tool's registered compensation")
                #expect(items[3]["http_status"] as? Int == 500)
                let counts = try #require(try first.object()["counts"] as? [String: Int])
                #expect(counts == ["succeeded": 2, "failed": 1, "not_compensable": 1, "skipped": 1])

                // The endpoints got signed calls with one idempotency key per compensated call.
                let cancels = endpoint.received("/cancel")
                #expect(cancels.count == 2)
                #expect(Set(cancels.compactMap { $0.headers[HTTPField.Name("Idempotency-Key")!] }).count == 2)
                #expect(cancels.allSatisfy { $0.headers[HTTPField.Name("Warden-Signature")!]?.hasPrefix("t=") == true })
                #expect(cancels.first?.body["run_id"] as? String == runID)
                #expect((cancels.last?.body["original"] as? [String: Any])?["tool"] as? String == "refund")
                #expect((endpoint.received("/broken").first?.body["input"] as? [String: Any])?["id"] as? Int == 7, "the step's own input")

                // Again: only what did not succeed is tried again.
                let second = try await client.send(.post, "/v1/tenants/acme/runs/\(runID)/rollback", json: #"{"reason":"retry"}"#).object()
                #expect((second["items"] as? [[String: Any]])?.compactMap { $0["step_sequence"] as? Int } == [5, 3, 2])
                #expect(endpoint.received("/cancel").count == 2)

                let listed = try await client.send(.get, "/v1/tenants/acme/runs/\(runID)/compensations").object()
                #expect((listed["items"] as? [[String: Any]])?.count == 8)
                let whole = try await client.send(.get, "/v1/tenants/acme/runs/\(runID)").object()
                #expect((whole["compensations"] as? [[String: Any]])?.count == 8)
                let audit = try await client.send(.get, "/v1/audit-events?action=run.rolled_back").object()
                #expect((audit["items"] as? [[String: Any]])?.count == 2, "\(audit)")
                let ledger = try await client.send(.get, "/v1/tenants/acme/ledger?limit=200").object()
                let kinds = (ledger["items"] as? [[String: Any]] ?? []).compactMap { $0["kind"] as? String }
                #expect(kinds.filter { $0 == "compensation" }.count == 8, "\(kinds)")
                #expect(try await client.send(.get, "/v1/tenants/acme/ledger/verify").object()["valid"] as? Bool == true)
            }
        }
    }

    /// Sandbox replay: a new run linked to the original; every tool call decided again under today's
    /// policy (a tool killed since then now denies: a divergence), recorded outputs fed back, nothing
    /// called, nothing recorded as a decision. `until_step` stops early.
    @Test(arguments: Backend.available)
    func sandboxReplayRedecidesAndCallsNothing(_ backend: Backend) async throws {
        try await ToolEndpoint.run { port, endpoint in
            try await TestApp.run(backend) { client in
                let demo = try await Demo.setUp(client)
                try await Self.tool(client, "ship", endpoint: "http://127.0.0.1:\(port)/refund")
                let runID = try #require(
                    try await client.send(.post, "/v1/tenants/acme/runs", token: demo.token, json: #"{"goal":"g"}"#).object()["id"] as? String)
                var decisionIDs: [String] = []
                for tool in ["refund", "ship"] {
                    let decided = try await client.send(
                        .post, "/v1/decide", token: demo.token, json: #"{"tool":"\#(tool)","action":"create","input":{"n":1},"run_id":"\#(runID)"}"#)
                    let id = try #require(try decided.object()["decision_id"] as? String)
                    decisionIDs.append(id)
                    let step = try await client.send(
                        .post, "/v1/tenants/acme/runs/\(runID)/steps", token: demo.token,
                        json:
                            #"{"kind":"tool_call","tool":"\#(tool)","action":"create","input":{"n":1},"output":{"refund_id":"r-1"},"decision_id":"\#(id)","idempotency_key":"k-\#(tool)"}"#
                    )
                    #expect(step.status == .created, "\(step.text)")
                }
                _ = try await client.send(
                    .post, "/v1/tenants/acme/runs/\(runID)/steps", token: demo.token, json: #"{"kind":"model_call","model":"m","response":"ok"}"#)
                // Since then, refund was killed.
                #expect(try await client.send(.post, "/v1/tenants/acme/tools/refund/kill", json: #"{"reason":"incident"}"#).status == .ok)
                let decisionsBefore = try await client.send(.get, "/v1/tenants/acme/decisions?limit=100").object()["items"] as? [[String: Any]]

                #expect(try await client.send(.post, "/v1/tenants/acme/runs/\(runID)/replay", token: demo.token).status == .forbidden)
                #expect(
                    try await client.send(.post, "/v1/tenants/acme/runs/\(runID)/replay", json: #"{"mode":"rerun"}"#).errorCode() == "invalid_field")
                #expect(
                    try await client.send(.post, "/v1/tenants/acme/runs/\(runID)/replay", json: #"{"until_step":0}"#).errorCode() == "invalid_field")
                let replayed = try await client.send(.post, "/v1/tenants/acme/runs/\(runID)/replay", json: "{}")
                #expect(replayed.status == .created, "\(replayed.text)")
                let body = try replayed.object()
                let report = try #require(body["report"] as? [String: Any])
                #expect(report["mode"] as? String == "sandbox" && report["divergences"] as? Int == 1 && report["steps_replayed"] as? Int == 3)
                let steps = try #require(report["steps"] as? [[String: Any]])
                #expect(steps[0]["original_decision"] as? String == "allow" && steps[0]["replayed_decision"] as? String == "deny")
                #expect(steps[0]["decision_changed"] as? Bool == true && steps[0]["diverged"] as? Bool == true)
                #expect(steps[1]["decision_changed"] as? Bool == false && steps[1]["called"] as? Bool == false)
                #expect(steps[2]["kind"] as? String == "model_call" && steps[2]["diverged"] as? Bool == false)
                #expect(endpoint.calls.withLock { $0.isEmpty }, "a sandbox replay calls nothing")
                let decisionsAfter = try await client.send(.get, "/v1/tenants/acme/decisions?limit=100").object()["items"] as? [[String: Any]]
                #expect(decisionsAfter?.count == decisionsBefore?.count, "a sandbox replay records no decision")

                // The replay run: linked both ways, completed, steps with the recorded outputs.
                let replayRunID = try #require(report["replay_run_id"] as? String)
                let replayRun = try await client.send(.get, "/v1/tenants/acme/runs/\(replayRunID)").object()
                #expect(replayRun["status"] as? String == "completed")
                #expect((replayRun["replay"] as? [String: Any])?["original_run_id"] as? String == runID)
                #expect((replayRun["steps"] as? [[String: Any]])?.count == 3)
                #expect(((replayRun["steps"] as? [[String: Any]])?.first?["output"] as? [String: Any])?["refund_id"] as? String == "r-1")
                let original = try await client.send(.get, "/v1/tenants/acme/runs/\(runID)").object()
                #expect(original["replays"] as? [String] == [replayRunID])

                let partial = try await client.send(.post, "/v1/tenants/acme/runs/\(runID)/replay", json: #"{"until_step":1}"#).object()
                #expect((partial["report"] as? [String: Any])?["steps_replayed"] as? Int == 1)
                let audit = try await client.send(.get, "/v1/audit-events?action=run.replayed").object()
                #expect((audit["items"] as? [[String: Any]])?.count == 2)
                #expect(try await client.send(.get, "/v1/tenants/acme/ledger/verify").object()["valid"] as? Bool == true)
            }
        }
    }

    /// Live replay: refused without an approved approval request for the run; with one, today's
    /// decisions are recorded under the replay run, allowed calls go to the tools' endpoints with the
    /// original idempotency keys, a different output is a divergence, and the approval is used once.
    @Test(arguments: Backend.available)
    func liveReplayNeedsApprovalAndCallsWithTheOriginalKeys(_ backend: Backend) async throws {
        try await ToolEndpoint.run { port, endpoint in
            try await TestApp.run(backend) { client in
                let demo = try await Demo.setUp(client)
                try await Self.tool(client, "ship", endpoint: "http://127.0.0.1:\(port)/refund")
                try await Self.tool(client, "ship2", endpoint: "http://127.0.0.1:\(port)/refund-v2")
                let runID = try #require(
                    try await client.send(.post, "/v1/tenants/acme/runs", token: demo.token, json: #"{"goal":"g"}"#).object()["id"] as? String)
                for (tool, key) in [("ship", "k-1"), ("ship2", "k-2"), ("ship", "")] {
                    let keyField = key.isEmpty ? "" : #","idempotency_key":"\#(key)""#
                    let step = try await client.send(
                        .post, "/v1/tenants/acme/runs/\(runID)/steps", token: demo.token,
                        json: #"{"kind":"tool_call","tool":"\#(tool)","action":"create","input":{"n":1},"output":{"refund_id":"r-1"}\#(keyField)}"#)
                    #expect(step.status == .created, "\(step.text)")
                }
                #expect(
                    try await client.send(.post, "/v1/tenants/acme/runs/\(runID)/replay", json: #"{"mode":"live"}"#).errorCode()
                        == "replay_not_approved")
                // The approval asked for is of a tool the tenant registers for it, `ledger.replay`.
                let gate = try await client.send(
                    .post, "/v1/tenants/acme/tools",
                    json:
                        #"{"name":"ledger.replay","description":"live replays","risk":"high","capabilities":["live"],"approval_level":"manual_approve"}"#
                )
                #expect(gate.status == .created, "\(gate.text)")
                let opened = try await client.send(
                    .post, "/v1/tenants/acme/approvals",
                    json: #"{"agent":"bot","tool":"ledger.replay","action":"live","input":{"run_id":"\#(runID)"}}"#)
                let approvalID = try #require(try opened.object()["id"] as? String, "\(opened.text)")
                let live = #"{"mode":"live","approval_id":"\#(approvalID)"}"#
                #expect(try await client.send(.post, "/v1/tenants/acme/runs/\(runID)/replay", json: live).errorCode() == "replay_not_approved")
                let approver = try await WebhookTests.approver(client)
                #expect(try await client.send(.post, "/v1/tenants/acme/approvals/\(approvalID)/approve", token: approver).status == .ok)

                let replayed = try await client.send(.post, "/v1/tenants/acme/runs/\(runID)/replay", json: live)
                #expect(replayed.status == .created, "\(replayed.text)")
                let report = try #require(try replayed.object()["report"] as? [String: Any])
                let steps = try #require(report["steps"] as? [[String: Any]])
                #expect(steps.compactMap { $0["called"] as? Bool } == [true, true, false], "\(steps)")
                #expect(steps[0]["output_differs"] as? Bool == false && steps[1]["output_differs"] as? Bool == true)
                #expect((steps[2]["note"] as? String)?.contains("no idempotency key") == true)
                #expect(report["divergences"] as? Int == 1)
                #expect(endpoint.received("/refund").first?.headers[HTTPField.Name("Idempotency-Key")!] == "k-1")
                #expect(endpoint.received("/refund-v2").first?.headers[HTTPField.Name("Idempotency-Key")!] == "k-2")
                // Today's decisions were recorded under the replay run.
                let replayRunID = try #require(report["replay_run_id"] as? String)
                let replayRun = try await client.send(.get, "/v1/tenants/acme/runs/\(replayRunID)").object()
                #expect((replayRun["decisions"] as? [[String: Any]])?.count == 3)
                // One live replay per approval.
                #expect(try await client.send(.post, "/v1/tenants/acme/runs/\(runID)/replay", json: live).errorCode() == "approval_used")
            }
        }
    }
}
