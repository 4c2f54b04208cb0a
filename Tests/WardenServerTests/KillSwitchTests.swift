import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import NIOHTTP1
import Testing

@testable import WardenServer

@Suite struct ToolRegistryTests {
    @Test(arguments: Backend.available)
    func registerShowPatchAndValidate(_ backend: Backend) async throws {
        try await TestApp.run(backend) { client in
            _ = try await Demo.setUp(client)
            let shown = try await client.send(.get, "/v1/tenants/acme/tools/refund").object()
            #expect(shown["risk"] as? String == "high")
            #expect(shown["capabilities"] as? [String] == ["create", "read"])
            #expect(shown["is_active"] as? Bool == true)
            #expect(shown["state_version"] as? Int == 1)
            #expect(shown["endpoint"] is NSNull)

            let patched = try await client.send(
                .patch, "/v1/tenants/acme/tools/refund",
                json: #"{"risk":"critical","capabilities":["read"],"endpoint":"https://tools.example/refund","reason":"narrow"}"#
            )
            #expect(patched.status == .ok, "\(patched.text)")
            let tool = try patched.object()
            #expect(tool["risk"] as? String == "critical")
            #expect(tool["endpoint"] as? String == "https://tools.example/refund")
            #expect(tool["state_version"] as? Int == 1, "a patch is not a kill-switch state change")
            let cleared = try await client.send(.patch, "/v1/tenants/acme/tools/refund", json: #"{"endpoint":null}"#).object()
            #expect(cleared["endpoint"] is NSNull)

            let duplicate = try await client.send(.post, "/v1/tenants/acme/tools", json: #"{"name":"refund","risk":"low","capabilities":[]}"#)
            #expect(try duplicate.errorCode() == "tool_exists")
            let badRisk = try await client.send(.post, "/v1/tenants/acme/tools", json: #"{"name":"x","risk":"extreme","capabilities":[]}"#)
            #expect(try badRisk.errorCode() == "invalid_field")
            #expect(badRisk.text.contains("low, medium, high, critical"))
            let badEndpoint = try await client.send(
                .post, "/v1/tenants/acme/tools", json: #"{"name":"x","risk":"low","capabilities":[],"endpoint":"ftp://nope"}"#
            )
            #expect(try badEndpoint.errorCode() == "invalid_field")
            let repeated = try await client.send(.post, "/v1/tenants/acme/tools", json: #"{"name":"x","risk":"low","capabilities":["a","a"]}"#)
            #expect(try repeated.errorCode() == "invalid_field")
            let activePatch = try await client.send(.patch, "/v1/tenants/acme/tools/refund", json: #"{"is_active":false}"#)
            #expect(try activePatch.errorCode() == "invalid_field")
            #expect(activePatch.text.contains("kill"))
            let unknownField = try await client.send(.patch, "/v1/tenants/acme/tools/refund", json: #"{"colour":"red"}"#)
            #expect(try unknownField.errorCode() == "invalid_field")
            let missing = try await client.send(.get, "/v1/tenants/acme/tools/nope")
            #expect(try missing.errorCode() == "tool_not_found")

            // Narrowed capabilities are in force for the next decision.
            let list = try await client.send(.get, "/v1/tenants/acme/tools").array("items")
            #expect(list.count == 1)
        }
    }
}

@Suite struct KillSwitchTests {
    @Test(arguments: Backend.available)
    func killDeniesTheVeryNextDecisionAndRestoreAllowsAgain(_ backend: Backend) async throws {
        let dependencies = ApplicationDependencies(registry: SharedMetrics.registry, announceGeneratedKey: { _ in })
        try await TestApp.run(backend, dependencies: dependencies) { client in
            let demo = try await Demo.setUp(client)
            #expect(try await demo.decide(client).decision().0 == "allow")

            let killed = try await client.send(.post, "/v1/tenants/acme/tools/refund/kill", json: #"{"reason":"refund loop"}"#)
            #expect(killed.status == .ok, "\(killed.text)")
            let tool = try killed.object()
            #expect(tool["is_active"] as? Bool == false)
            #expect(tool["state_version"] as? Int == 2)
            #expect(tool["state_reason"] as? String == "refund loop")
            #expect(try await demo.decide(client).decision() == ("deny", ["tool_disabled"]))
            // The kill switch wins over capability checks too.
            #expect(try await demo.decide(client, action: "delete").decision() == ("deny", ["tool_disabled"]))

            let again = try await client.send(.post, "/v1/tenants/acme/tools/refund/kill", json: #"{"reason":"twice"}"#)
            #expect(again.status == .conflict)
            #expect(try again.errorCode() == "tool_already_disabled")
            let noReason = try await client.send(.post, "/v1/tenants/acme/tools/refund/restore", json: #"{"reason":"  "}"#)
            #expect(noReason.status == .badRequest)

            let restored = try await client.send(.post, "/v1/tenants/acme/tools/refund/restore", json: #"{"reason":"fixed"}"#)
            #expect(try restored.object()["state_version"] as? Int == 3)
            #expect(try await demo.decide(client).decision().0 == "allow")

            let audit = try await client.send(.get, "/v1/tenants/acme/audit-events").array("items")
            let actions = audit.compactMap { $0["action"] as? String }
            #expect(actions.prefix(2) == ["tool.restored", "tool.killed"])
            #expect(audit.first?["reason"] as? String == "fixed")

            let metrics = try await client.send(.get, "/metrics", token: nil).text
            #expect(metrics.contains(#"warden_kill_switch_events_total{event="disabled"}"#))
            #expect(metrics.contains(#"warden_policy_decisions_total{decision="deny"}"#))
            #expect(metrics.contains("warden_decision_duration_seconds"))
        }
    }

    @Test func onlyOperatorsAndAdminsMayKill() async throws {
        try await TestApp.run(.sqlite) { client in
            _ = try await Demo.setUp(client)
            for (role, expected) in [("auditor", HTTPResponse.Status.forbidden), ("operator", .ok)] {
                let key = try await client.send(.post, "/v1/api-keys", json: #"{"name":"\#(role)","role":"\#(role)","tenant":"acme"}"#)
                let secret = try #require(try key.object()["key"] as? String)
                let response = try await client.send(.post, "/v1/tenants/acme/tools/refund/kill", token: secret, json: #"{"reason":"drill"}"#)
                #expect(response.status == expected, "\(role): \(response.text)")
            }
        }
    }

    @Test func adaptersAcknowledgeAndStaleOnesAreVisible() async throws {
        try await TestApp.run(.sqlite) { client in
            let demo = try await Demo.setUp(client)
            let ack = try await client.send(
                .post, "/v1/tenants/acme/tools/refund/ack", token: demo.token, json: #"{"adapter_id":"langgraph-1","state_version":1}"#
            )
            #expect(ack.status == .ok, "\(ack.text)")
            try await client.send(.post, "/v1/tenants/acme/tools/refund/ack", json: #"{"adapter_id":"agentkit-1","state_version":1}"#)
            try await client.send(.post, "/v1/tenants/acme/tools/refund/kill", json: #"{"reason":"drill"}"#)
            try await client.send(
                .post, "/v1/tenants/acme/tools/refund/ack", token: demo.token, json: #"{"adapter_id":"langgraph-1","state_version":2}"#)

            let tool = try await client.send(.get, "/v1/tenants/acme/tools/refund").object()
            let adapters = try #require(tool["adapters"] as? [[String: Any]])
            #expect(adapters.map { $0["adapter_id"] as? String } == ["agentkit-1", "langgraph-1"])
            #expect(adapters.map { $0["current"] as? Bool } == [false, true])
            #expect(tool["stale_adapters"] as? [String] == ["agentkit-1"])

            let future = try await client.send(.post, "/v1/tenants/acme/tools/refund/ack", json: #"{"adapter_id":"x","state_version":9}"#)
            #expect(try future.errorCode() == "invalid_field")
        }
    }
}

/// The event stream, over a real socket: live events, resumption with Last-Event-ID, heartbeats.
@Suite struct EventStreamTests {
    @Test(arguments: Backend.available)
    func followResumeAndHeartbeat(_ backend: Backend) async throws {
        let fastHeartbeat: (inout WardenConfiguration) -> Void = { $0.eventHeartbeat = .milliseconds(200) }
        try await TestApp.run(backend, mode: .live, configure: fastHeartbeat) { client in
            let demo = try await Demo.setUp(client)
            let port = try #require(client.port)
            // Registering the tool was event 1. Follow from the start and watch a kill arrive live.
            let stream = try await EventStreamReader.open(port: port, token: demo.token, lastEventID: nil)
            let first = try await stream.next(event: "tool.registered")
            #expect(first.id == 1)
            try await client.send(.post, "/v1/tenants/acme/tools/refund/kill", json: #"{"reason":"drill"}"#)
            let killed = try await stream.next(event: "tool.killed")
            #expect(killed.id == 2)
            #expect(killed.data.contains(#""state_version":2"#))
            #expect(try await stream.waitForHeartbeat())
            await stream.close()

            // While nobody listens the tool is restored; a follower resuming after event 2 gets it.
            try await client.send(.post, "/v1/tenants/acme/tools/refund/restore", json: #"{"reason":"done"}"#)
            let resumed = try await EventStreamReader.open(port: port, token: demo.token, lastEventID: 2)
            let restored = try await resumed.next(event: nil)
            #expect(restored.id == 3)
            #expect(restored.event == "tool.restored")
            await resumed.close()
        }
    }
}

/// Reads a `text/event-stream` response frame by frame.
final class EventStreamReader: Sendable {
    struct Frame {
        var id: Int?
        var event: String?
        var data: String
    }

    private let response: HTTPClientResponse
    private let lines: AsyncStream<String>
    private let task: Task<Void, Never>

    private init(response: HTTPClientResponse) {
        self.response = response
        let (lines, continuation) = AsyncStream.makeStream(of: String.self)
        self.lines = lines
        let body = response.body
        self.task = Task {
            var pending = ""
            do {
                for try await buffer in body {
                    pending += String(buffer: buffer)
                    while let newline = pending.firstIndex(of: "\n") {
                        continuation.yield(String(pending[..<newline]))
                        pending = String(pending[pending.index(after: newline)...])
                    }
                }
            } catch {}
            continuation.finish()
        }
    }

    static func open(port: Int, token: String, lastEventID: Int?) async throws -> EventStreamReader {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/tenants/acme/events")
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        if let lastEventID { request.headers.add(name: "Last-Event-ID", value: String(lastEventID)) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        #expect(response.status == .ok)
        #expect(response.headers["content-type"].first?.hasPrefix("text/event-stream") == true)
        return EventStreamReader(response: response)
    }

    /// The next frame (of the given event type, skipping others), within five seconds.
    func next(event: String?) async throws -> Frame {
        try await withTimeout {
            var frame = Frame(data: "")
            for await line in self.lines {
                if line.isEmpty {
                    if !frame.data.isEmpty, event == nil || frame.event == event { return frame }
                    frame = Frame(data: "")
                } else if line.hasPrefix("id: ") {
                    frame.id = Int(line.dropFirst(4))
                } else if line.hasPrefix("event: ") {
                    frame.event = String(line.dropFirst(7))
                } else if line.hasPrefix("data: ") {
                    frame.data = String(line.dropFirst(6))
                }
            }
            throw CancellationError()
        }
    }

    func waitForHeartbeat() async throws -> Bool {
        try await withTimeout {
            for await line in self.lines where line.hasPrefix(": heartbeat") { return true }
            return false
        }
    }

    func close() async {
        task.cancel()
        _ = await task.value
    }

    private func withTimeout<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: .seconds(5))
                throw CancellationError()
            }
            let result = try await group.next()!
            group.cancelAll()
            return result
        }
    }
}
