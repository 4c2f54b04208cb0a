import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Synchronization
import Testing
import WardenCore

@testable import WardenServer

/// A stand-in OpenTelemetry collector: keeps every OTLP/HTTP body posted to `/v1/traces`, raw
/// (protobuf), or holds each request for a minute without answering (`hang`: a collector that
/// accepts connections and never replies).
final class Collector: Sendable {
    let bodies = Mutex<[[UInt8]]>([])
    let hang: Bool

    init(hang: Bool) { self.hang = hang }

    /// All bytes received so far, to search for span names and ids.
    var received: [UInt8] { bodies.withLock { $0.flatMap { $0 } } }

    func contains(_ bytes: some Collection<UInt8>) -> Bool {
        let haystack = received
        let needle = Array(bytes)
        guard !needle.isEmpty, haystack.count >= needle.count else { return false }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if Array(haystack[start..<(start + needle.count)]) == needle { return true }
        }
        return false
    }

    /// Runs a collector on `port` (0: any free port) for as long as `body` runs; stopping it closes
    /// the port, as a stopped collector does.
    static func run(
        port: Int = 0, hang: Bool = false, _ body: @escaping @Sendable (Int, Collector) async throws -> Void
    ) async throws {
        let collector = Collector(hang: hang)
        let router = Router()
        router.post("/v1/traces") { request, _ -> Response in
            // Longer than Warden's export timeout in these tests (2 s).
            if collector.hang { try await Task.sleep(for: .seconds(30)) }
            let buffer = try await request.body.collect(upTo: 16 << 20)
            collector.bodies.withLock { $0.append(Array(buffer.readableBytesView)) }
            // An empty ExportTraceServiceResponse: everything accepted.
            return Response(status: .ok, headers: [.contentType: "application/x-protobuf"], body: .init())
        }
        let (bound, announce) = AsyncStream<Int>.makeStream()
        // Stopped by cancellation, which Hummingbird logs as an error ("Already closed").
        var logger = Logger(label: "collector")
        logger.logLevel = .critical
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)),
            onServerRunning: { channel in announce.yield(channel.localAddress?.port ?? 0) }, logger: logger)
        try await withThrowingTaskGroup { group in
            group.addTask { try await app.runService(gracefulShutdownSignals: []) }
            var ports = bound.makeAsyncIterator()
            let actual = try #require(await ports.next())
            defer { group.cancelAll() }
            try await body(actual, collector)
        }
    }

    /// A loopback port nothing listens on (a collector ran there and stopped).
    static func freePort() async throws -> Int {
        let port = Mutex(0)
        try await run { found, _ in port.withLock { $0 = found } }
        return port.withLock { $0 }
    }
}

/// A trace id (16 bytes) from its 32 hex digits.
func traceIDBytes(_ hex: String) -> [UInt8] {
    var bytes: [UInt8] = []
    var index = hex.startIndex
    while index < hex.endIndex {
        let next = hex.index(index, offsetBy: 2)
        bytes.append(UInt8(hex[index..<next], radix: 16)!)
        index = next
    }
    return bytes
}

@Suite struct TracingTests {
    /// Traces to the collector on `port`, shipped every `delay`, an export abandoned after `timeout`.
    static func traced(_ port: Int, delay: Duration, timeout: Duration = .seconds(3)) -> (inout WardenConfiguration) -> Void {
        { configuration in
            configuration.tracing = .endpoint("http://127.0.0.1:\(port)/v1/traces")
            configuration.traceExportDelay = delay
            configuration.traceExportTimeout = timeout
        }
    }

    /// With a collector, decide (and its policy evaluation), approvals, kill and restore are exported
    /// as spans over OTLP/HTTP. A request's `traceparent` makes its spans part of the caller's trace,
    /// and the decision record keeps that trace id; without one, the record keeps the id of the trace
    /// Warden started.
    @Test(arguments: Backend.available)
    func spansReachTheCollectorUnderTheCallersTrace(_ backend: Backend) async throws {
        try await Collector.run { port, collector in
            try await TestApp.run(
                backend,
                configure: Self.traced(port, delay: .milliseconds(100))
            ) { client in
                let demo = try await Demo.setUp(client, approvalLevel: "manual_approve")
                let traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
                let decided = try await client.send(
                    .post, "/v1/decide", token: demo.token, json: #"{"tool":"refund","action":"create","input":{"order":42}}"#,
                    headers: [HTTPField.Name("traceparent")!: "00-\(traceID)-00f067aa0ba902b7-01"])
                #expect(try decided.decision() == ("require_approval", ["default_allow", "approval_required"]))
                let decisionID = try #require(try decided.object()["decision_id"] as? String)
                let approvalID = try #require(try decided.object()["approval_id"] as? String)
                let stored = try await client.send(.get, "/v1/tenants/acme/decisions/\(decisionID)").object()
                #expect(stored["trace_id"] as? String == traceID)

                // No traceparent: Warden starts a trace and the record keeps its id.
                let untraced = try await demo.decide(client)
                let untracedID = try #require(try untraced.object()["decision_id"] as? String)
                let started = try #require(
                    try await client.send(.get, "/v1/tenants/acme/decisions/\(untracedID)").object()["trace_id"] as? String)
                #expect(started.count == 32 && started.allSatisfy(\.isHexDigit) && started != traceID, "\(started)")

                let approver = try await WebhookTests.approver(client)
                let approved = try await client.send(
                    .post, "/v1/tenants/acme/approvals/\(approvalID)/approve", token: approver, json: #"{"comment":"ok"}"#)
                #expect(approved.status == .ok, "\(approved.text)")
                #expect(try await client.send(.post, "/v1/tenants/acme/tools/refund/kill", json: #"{"reason":"INC-9"}"#).status == .ok)
                #expect(try await client.send(.post, "/v1/tenants/acme/tools/refund/restore", json: #"{"reason":"fixed"}"#).status == .ok)
                #expect(try await client.send(.get, "/healthz", token: nil).status == .ok)

                let names = [
                    "warden.decide", "warden.policy.evaluate", "warden.approval.create", "warden.approval.vote", "warden.tool.kill",
                    "warden.tool.restore", "POST /v1/decide",
                ]
                let arrived = try await eventually(15) {
                    names.allSatisfy { collector.contains(Array($0.utf8)) } && collector.contains(traceIDBytes(traceID))
                        && collector.contains(traceIDBytes(started))
                }
                #expect(arrived, "missing: \(names.filter { !collector.contains(Array($0.utf8)) })")
                #expect(collector.contains(Array(decisionID.utf8)), "the decide span names its decision")
                #expect(!collector.contains(Array("/healthz".utf8)), "probes are not traced")
                #expect(collector.contains(Array("service.name".utf8)) && collector.contains(Array("warden".utf8)))
            }
        }
    }

    /// With the collector refusing connections, or accepting them and never answering, decisions are
    /// answered without waiting on it, none is lost, the ledger holds every record, and the server
    /// still shuts down within two export timeouts.
    @Test(arguments: Backend.available, [CollectorFault.refused, .hanging])
    func aCollectorOutageBlocksNothingAndLosesNothing(_ backend: Backend, _ fault: CollectorFault) async throws {
        let body: @Sendable (Int) async throws -> Void = { port in
            let slowest = Mutex<Duration>(.zero)
            let served = Mutex(ContinuousClock.now)
            try await TestApp.run(
                backend,
                configure: Self.traced(port, delay: .milliseconds(20), timeout: .seconds(5))
            ) { client in
                let demo = try await Demo.setUp(client)
                let count = 300
                for index in 0..<count {
                    let start = ContinuousClock.now
                    let decided = try await demo.decide(client, extra: #","run_id":"outage-\#(index % 3)""#)
                    let took = ContinuousClock.now - start
                    slowest.withLock { $0 = max($0, took) }
                    #expect(decided.status == .ok, "\(decided.text)")
                }
                let listed = try await client.send(.get, "/v1/tenants/acme/decisions?limit=500").array("items")
                #expect(listed.count == count, "every decision was recorded")
                let verified = try await client.send(.get, "/v1/tenants/acme/ledger/verify?records=true").object()
                #expect(verified["valid"] as? Bool == true, "\(verified)")
                #expect((verified["entries"] as? Int ?? 0) >= count, "\(verified)")
                served.withLock { $0 = ContinuousClock.now }
            }
            // No decision waited on the exporter (its timeout is 5 s; alone on this machine the slowest
            // takes about 10 ms, beside the whole suite about 400 ms); shutdown waits for at most the
            // export in flight and the last flush, one timeout each (seen: 2 to 11 s), not for the collector.
            let shutdown = ContinuousClock.now - served.withLock { $0 }
            #expect(slowest.withLock { $0 } < .milliseconds(2500), "slowest decision: \(slowest.withLock { $0 })")
            #expect(shutdown < .seconds(20), "shutdown took \(shutdown)")
            print("collector outage: slowest decision \(slowest.withLock { $0 }), shutdown \(shutdown)")
        }
        switch fault {
        case .refused:
            // Nothing listens on port 1 of the loopback address: every export is refused.
            try await body(1)
        case .hanging:
            try await Collector.run(hang: true) { port, _ in try await body(port) }
        }
    }

    /// Seed 001, scenario 3 (observability outage), played: the collector stops while agents keep
    /// deciding. Decisions go on unslowed and are all recorded, with their trace ids; `/metrics`,
    /// `/healthz` and `/readyz` still answer (the triage steps); each refused export is counted in
    /// `warden_trace_export_failures_total` (and logged). When the collector is back, new spans reach
    /// it without a restart of Warden. Spans of the outage still queued then are shipped too; a batch
    /// whose export failed is not retried (the SDK drops it), but the records it described are in the
    /// database and the ledger.
    @Test(arguments: Backend.available)
    func observabilityOutageDrill(_ backend: Backend) async throws {
        _ = SharedMetrics.registry
        let port = try await Collector.freePort()
        try await TestApp.run(
            backend, dependencies: ApplicationDependencies(registry: SharedMetrics.registry, announceGeneratedKey: { _ in }), mode: .live,
            configure: Self.traced(port, delay: .milliseconds(50))
        ) { client in
            let demo = try await Demo.setUp(client)
            @Sendable func decide(_ traceID: String) async throws -> TestResponse {
                try await client.send(
                    .post, "/v1/decide", token: demo.token, json: #"{"tool":"refund","action":"create","input":{"order":7}}"#,
                    headers: [HTTPField.Name("traceparent")!: "00-\(traceID)-00f067aa0ba902b7-01"])
            }
            let before = "0af7651916cd43dd8448eb211c80319c"
            let during = "5b8aa5a2d2c872e8321cf37308d69df2"
            let after = "a3ce929d0e0e47364bf92f3577b34da6"
            // Normal operation: spans arrive.
            try await Collector.run(port: port) { (_: Int, collector: Collector) async throws in
                #expect(try await decide(before).status == .ok)
                #expect(try await eventually(15) { collector.contains(traceIDBytes(before)) })
            }
            // Trigger: the collector is stopped.
            let failures = SharedMetrics.value(of: "warden_trace_export_failures_total", labels: "")
            for _ in 0..<50 {
                let start = ContinuousClock.now
                let decided = try await decide(during)
                #expect(decided.status == .ok, "\(decided.text)")
                // Under the export timeout (3 s): no decision waits on a refused export.
                #expect(ContinuousClock.now - start < .milliseconds(1500))
            }
            #expect(try await eventually(15) { SharedMetrics.value(of: "warden_trace_export_failures_total", labels: "") > failures })
            // Triage: Warden itself answers.
            #expect(try await client.send(.get, "/healthz", token: nil).status == .ok)
            #expect(try await client.send(.get, "/readyz", token: nil).status == .ok)
            let metrics = try await client.send(.get, "/metrics", token: nil)
            #expect(metrics.status == .ok && metrics.text.contains("warden_policy_decisions_total"))
            // Recovery: the collector is back; spans flow again, no restart of Warden.
            try await Collector.run(port: port) { (_: Int, collector: Collector) async throws in
                #expect(try await decide(after).status == .ok)
                #expect(try await eventually(15) { collector.contains(traceIDBytes(after)) })
            }
            // Backfill: the outage's decisions are all recorded, with their trace id, and in the ledger.
            let listed = try await client.send(.get, "/v1/tenants/acme/decisions?limit=500").array("items")
            #expect(listed.filter { $0["trace_id"] as? String == during }.count == 50)
            #expect(listed.count == 52)
            let verified = try await client.send(.get, "/v1/tenants/acme/ledger/verify?records=true").object()
            #expect(verified["valid"] as? Bool == true, "\(verified)")
        }
    }

    enum CollectorFault: Sendable, CustomStringConvertible {
        case refused, hanging
        var description: String { self == .refused ? "refused" : "hanging" }
    }

    /// The OTLP variables turn tracing on; a malformed address is refused at start with a clear error.
    @Test func otlpEnvironmentTurnsTracingOn() throws {
        #expect(try WardenConfiguration.load(configFile: nil, environment: [:], overrides: .init()).tracing == .off)
        #expect(
            try WardenConfiguration.load(configFile: nil, environment: ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"], overrides: .init())
                .tracing == .environment)
        #expect(
            try WardenConfiguration.load(
                configFile: nil, environment: ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://collector/v1/traces"], overrides: .init()
            ).tracing
                == .environment)
        #expect(throws: WardenError.self) {
            try WardenConfiguration.load(configFile: nil, environment: ["OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"], overrides: .init())
        }
    }
}
