import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import Synchronization

extension LoadTest {
    /// `warden loadtest isolation`: the runaway-agent drill. Tenant B's agent decides at a steady rate,
    /// alone (quiet), then while tenant A's agent floods at `--flood-rate` with no backoff. Prints A's
    /// throttling and B's latency in both phases; exits 1 if B saw a denial or an error, or if its p99
    /// under the flood is above twice its quiet p99.
    struct IsolationLoad: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "isolation",
            abstract: "Flood decisions as one agent of tenant A while tenant B decides at a steady rate; compare B's p99 with its quiet p99.")
        @OptionGroup var client: ClientOptions
        @Option(help: "Agent token of tenant A's runaway agent.") var floodToken: String
        @Option(help: "Agent token of tenant B's agent.") var steadyToken: String
        @Option(help: "Tool and action A's agent calls, as TOOL:ACTION.") var floodCall: String = "search:query"
        @Option(help: "Tool and action B's agent calls, as TOOL:ACTION.") var steadyCall: String = "search:query"
        @Option(help: "A's requests a second, sent whatever the answers (no backoff).") var floodRate: Double = 1000
        @Option(help: "B's requests a second.") var steadyRate: Double = 50
        @Option(help: "Seconds per phase.") var seconds: Double = 10

        func validate() throws {
            guard floodRate > 0, floodRate <= 20_000 else { throw ValidationError("--flood-rate must be above 0 and at most 20000") }
            guard steadyRate > 0, steadyRate <= 2_000 else { throw ValidationError("--steady-rate must be above 0 and at most 2000") }
            guard seconds >= 1, seconds <= 600 else { throw ValidationError("--seconds must be 1 to 600") }
        }

        /// Answers by status, and latencies in milliseconds of one stream of requests.
        final class Tally: Sendable {
            struct Value {
                var statuses: [Int: Int] = [:]
                var effects: [String: Int] = [:]
                var errors = 0
                var milliseconds: [Double] = []
            }
            let value = Mutex(Value())
        }

        func run() async throws {
            var configuration = HTTPClient.Configuration()
            configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 256)
            let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
            let url = client.baseURL + "/v1/decide"

            func body(_ call: String) throws -> Data {
                let parts = call.split(separator: ":", maxSplits: 1).map(String.init)
                guard parts.count == 2 else { throw CLIError("a call is TOOL:ACTION (got '\(call)')") }
                return try JSONSerialization.data(withJSONObject: ["tool": parts[0], "action": parts[1], "input": ["q": "load"]])
            }
            let floodBody = try body(floodCall)
            let steadyBody = try body(steadyCall)

            @Sendable func decide(_ token: String, _ payload: Data, into tally: Tally) async {
                var request = HTTPClientRequest(url: url)
                request.method = .POST
                request.headers.add(name: "Authorization", value: "Bearer \(token)")
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(ByteBuffer(data: payload))
                let started = ContinuousClock.now
                do {
                    let response = try await http.execute(request, timeout: .seconds(30))
                    let bytes = try await response.body.collect(upTo: 1 << 20)
                    let effect = (try? JSONSerialization.jsonObject(with: Data(buffer: bytes)) as? [String: Any])?["effect"] as? String
                    let elapsed = ContinuousClock.now - started
                    let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
                    tally.value.withLock {
                        $0.statuses[Int(response.status.code), default: 0] += 1
                        $0.effects[effect ?? "none", default: 0] += 1
                        $0.milliseconds.append(milliseconds)
                    }
                } catch {
                    tally.value.withLock { $0.errors += 1 }
                }
            }

            /// Sends at `rate` for `seconds`, on schedule (open loop): a slow answer does not delay the next request.
            @Sendable func stream(_ token: String, _ payload: Data, rate: Double, seconds: Double, into tally: Tally) async {
                let start = ContinuousClock.now
                let total = Int(rate * seconds)
                await withTaskGroup(of: Void.self) { group in
                    for index in 0..<total {
                        let due = start + .nanoseconds(Int64(Double(index) / rate * 1e9))
                        if due > ContinuousClock.now { try? await Task.sleep(until: due, clock: .continuous) }
                        group.addTask { await decide(token, payload, into: tally) }
                    }
                }
            }

            func percentile(_ sorted: [Double], _ p: Double) -> Double {
                guard !sorted.isEmpty else { return 0 }
                return sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
            }

            // Warm-up, then the quiet phase: B alone.
            await stream(steadyToken, steadyBody, rate: steadyRate, seconds: 1, into: Tally())
            let quiet = Tally()
            await stream(steadyToken, steadyBody, rate: steadyRate, seconds: seconds, into: quiet)
            // The storm: A floods while B keeps its pace.
            let storm = Tally()
            let flood = Tally()
            async let flooding: Void = stream(floodToken, floodBody, rate: floodRate, seconds: seconds, into: flood)
            await stream(steadyToken, steadyBody, rate: steadyRate, seconds: seconds, into: storm)
            await flooding
            try await http.shutdown()

            let q = quiet.value.withLock { $0 }
            let s = storm.value.withLock { $0 }
            let f = flood.value.withLock { $0 }
            let quietSorted = q.milliseconds.sorted()
            let stormSorted = s.milliseconds.sorted()
            let quietP99 = percentile(quietSorted, 0.99)
            let stormP99 = percentile(stormSorted, 0.99)
            let sent = f.statuses.values.reduce(0, +) + f.errors
            print(
                String(
                    format: "tenant A flood: %d sent at %.0f/s over %.0f s: %d answered 429 (rate_limited), %d allowed, %d other, %d errors", sent,
                    floodRate, seconds, f.statuses[429] ?? 0, f.effects["allow"] ?? 0,
                    sent - (f.statuses[429] ?? 0) - (f.effects["allow"] ?? 0) - f.errors,
                    f.errors))
            print(
                String(
                    format: "tenant B quiet: %d decisions, p50 %.2f ms, p99 %.2f ms, denials %d, errors %d", quietSorted.count,
                    percentile(quietSorted, 0.5), quietP99, q.effects["deny"] ?? 0, q.errors))
            print(
                String(
                    format: "tenant B during the flood: %d decisions, p50 %.2f ms, p99 %.2f ms (%.2f× quiet), denials %d, errors %d",
                    stormSorted.count,
                    percentile(stormSorted, 0.5), stormP99, quietP99 > 0 ? stormP99 / quietP99 : 0, s.effects["deny"] ?? 0, s.errors))
            let denied = (s.effects["deny"] ?? 0) + (s.effects["require_approval"] ?? 0) + s.errors + (s.statuses[429] ?? 0)
            let withinBound = quietP99 > 0 && stormP99 <= 2 * quietP99
            print(
                "isolation: \(denied == 0 ? "no denial of tenant B" : "tenant B DENIED \(denied) time(s)"); p99 \(withinBound ? "within" : "OVER") 2× quiet"
            )
            if denied > 0 || !withinBound || (f.statuses[429] ?? 0) == 0 { throw ExitCode.failure }
        }
    }
}
