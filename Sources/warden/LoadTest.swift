import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import Synchronization

/// `warden loadtest approvals`: the approvals runbook's load test, against a running server.
struct LoadTest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loadtest", abstract: "Load tests: approvals and tenant isolation against a running server; the ledger against a database.",
        subcommands: [ApprovalsLoad.self, LedgerLoad.self, IsolationLoad.self])

    /// Each request opens an approval (`POST …/approvals` with an Idempotency-Key), reads it back
    /// (`GET …/approvals/{id}`) and has an approver approve it (`POST …/{id}/approve`): three calls, by
    /// `--concurrent` workers until `--total` requests are done. Prints the success rate and the
    /// latency percentiles of each call; exits 1 if the runbook's bar (≥ 99 % success, p95 < 500 ms)
    /// is missed.
    struct ApprovalsLoad: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "approvals", abstract: "Create, fetch and approve approval requests concurrently; print success and latency per call.")
        @OptionGroup var client: ClientOptions
        @Option(help: "Tenant slug.") var tenant: String
        @Option(help: "The agent the requests are for.") var agent: String
        @Option(help: "The tool the requests are for.") var tool: String
        @Option(help: "The action the requests are for.") var action: String = "create"
        @Option(help: "An approver key of the tenant (env WARDEN_APPROVER_TOKEN); the requests are opened with --token.")
        var approverToken: String?
        @Option(help: "Workers at once.") var concurrent: Int = 50
        @Option(help: "Approval requests in all.") var total: Int = 2000

        func validate() throws {
            guard (1...1000).contains(concurrent) else { throw ValidationError("--concurrent must be 1 to 1000") }
            guard (1...1_000_000).contains(total) else { throw ValidationError("--total must be 1 to 1000000") }
        }

        /// What the workers share.
        final class State: Sendable {
            let next = Counter()
            let progress = Counter()
            let samples = Locked<[Sample]>([])
            let failures = Locked<[String: Int]>([:])
        }

        final class Counter: Sendable {
            private let value = Atomic<Int>(0)
            /// Adds one; returns the value before.
            func add() -> Int { value.add(1, ordering: .relaxed).oldValue }
            var current: Int { value.load(ordering: .relaxed) }
        }

        final class Locked<Value: Sendable>: Sendable {
            private let mutex: Mutex<Value>
            init(_ value: Value) { mutex = Mutex(value) }
            func withLock<T>(_ body: (inout Value) -> T) -> T { mutex.withLock { body(&$0) } }
        }

        struct Sample: Sendable {
            var call: Int
            var milliseconds: Double
            var ok: Bool
        }

        func run() async throws {
            guard let creator = client.bearer else { throw CLIError("no API key: pass --token or set WARDEN_TOKEN") }
            guard let approver = approverToken ?? ProcessInfo.processInfo.environment["WARDEN_APPROVER_TOKEN"] else {
                throw CLIError("no approver key: pass --approver-token or set WARDEN_APPROVER_TOKEN")
            }
            var configuration = HTTPClient.Configuration()
            configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: concurrent)
            let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
            let base = client.baseURL + "/v1/tenants/\(tenant)/approvals"
            let run = UUID().uuidString.lowercased().prefix(8)
            let state = State()
            let (next, samples, failures, progress) = (state.next, state.samples, state.failures, state.progress)
            let total = self.total
            let body = try JSONSerialization.data(withJSONObject: [
                "agent": agent, "tool": tool, "action": action, "input": ["order": 42, "amount": 19.99], "reason": "load test",
            ])

            @Sendable func call(_ index: Int, _ method: HTTPMethod, _ url: String, _ token: String, _ payload: Data?, key: String? = nil)
                async -> [String: Any]?
            {
                var request = HTTPClientRequest(url: url)
                request.method = method
                request.headers.add(name: "Authorization", value: "Bearer \(token)")
                if let key { request.headers.add(name: "Idempotency-Key", value: key) }
                if let payload {
                    request.headers.add(name: "Content-Type", value: "application/json")
                    request.body = .bytes(ByteBuffer(data: payload))
                }
                let started = ContinuousClock.now
                var ok = false
                var object: [String: Any]?
                do {
                    let response = try await http.execute(request, timeout: .seconds(30))
                    let bytes = try await response.body.collect(upTo: 1 << 20)
                    object = try? JSONSerialization.jsonObject(with: Data(buffer: bytes)) as? [String: Any]
                    ok = (200..<300).contains(response.status.code)
                    if !ok { failures.withLock { $0["\(["create", "fetch", "approve"][index]) HTTP \(response.status.code)", default: 0] += 1 } }
                } catch {
                    failures.withLock { $0["\(["create", "fetch", "approve"][index]) \(type(of: error))", default: 0] += 1 }
                }
                let elapsed = ContinuousClock.now - started
                let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
                samples.withLock { $0.append(Sample(call: index, milliseconds: milliseconds, ok: ok)) }
                return ok ? object : nil
            }

            let started = ContinuousClock.now
            let reporter = Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(2))
                    if Task.isCancelled { break }
                    FileHandle.standardError.write(Data("… \(progress.current) of \(total) requests done\n".utf8))
                }
            }
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<min(concurrent, total) {
                    group.addTask {
                        while true {
                            let index = next.add()
                            guard index < total else { return }
                            defer { _ = progress.add() }
                            guard let created = await call(0, .POST, base, creator, body, key: "load-\(run)-\(index)"),
                                let id = created["id"] as? String
                            else { continue }
                            guard await call(1, .GET, "\(base)/\(id)", creator, nil) != nil else { continue }
                            _ = await call(2, .POST, "\(base)/\(id)/approve", approver, Data(#"{"comment":"load test"}"#.utf8))
                        }
                    }
                }
            }
            reporter.cancel()
            try? await http.shutdown()
            let elapsed = ContinuousClock.now - started
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            let all = samples.withLock { $0 }
            let approved = all.filter { $0.call == 2 && $0.ok }.count
            Swift.print(
                "approvals load: \(total) requests, \(concurrent) concurrent, \(String(format: "%.1f", seconds)) s, "
                    + "\(String(format: "%.0f", Double(all.count) / seconds)) calls/s")
            Swift.print("call      calls   success      p50      p95      p99      max  (ms)")
            var worstP95 = 0.0
            var worstSuccess = 100.0
            for (index, name) in ["create", "fetch", "approve"].enumerated() {
                let calls = all.filter { $0.call == index }
                let times = calls.map(\.milliseconds).sorted()
                func percentile(_ p: Double) -> Double {
                    times.isEmpty ? 0 : times[min(times.count - 1, Int((p * Double(times.count)).rounded(.up)) - 1)]
                }
                let success = calls.isEmpty ? 0 : 100 * Double(calls.filter(\.ok).count) / Double(calls.count)
                worstP95 = max(worstP95, percentile(0.95))
                worstSuccess = min(worstSuccess, success)
                Swift.print(
                    name.padding(toLength: 8, withPad: " ", startingAt: 0)
                        + String(
                            format: "%7d %8.2f%% %8.2f %8.2f %8.2f %8.2f", calls.count, success,
                            percentile(0.5), percentile(0.95), percentile(0.99), times.last ?? 0))
            }
            let overall = 100 * Double(approved) / Double(total)
            Swift.print(String(format: "end to end: %d of %d approved (%.2f%%)", approved, total, overall))
            for (failure, count) in failures.withLock({ $0 }).sorted(by: { $0.key < $1.key }) { Swift.print("failed: \(failure) × \(count)") }
            let runbook = overall >= 99 && worstP95 < 500
            let target = overall == 100 && worstP95 < 20
            Swift.print(
                "runbook bar (≥ 99 % success, p95 < 500 ms): \(runbook ? "met" : "MISSED"); "
                    + "target (100 %, p95 < 20 ms): \(target ? "met" : "missed")")
            if !runbook { throw ExitCode.failure }
        }
    }
}
