import ArgumentParser
import Foundation

/// `warden chaos`: the kill/restore drill. Kills and restores a tool in cycles against a running
/// server, checks after every step that decisions follow the state, and reports time-to-effect.
struct Chaos: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Kill/restore drill: cycles the kill switch and checks that decisions follow it.",
        discussion: """
            Time to effect is measured from sending the kill (or restore) to the first decision that reflects it. \
            Exit status 0 when every check passed, 1 otherwise. Do not run against shared environments without approval.
            """
    )
    @OptionGroup var client: ClientOptions
    @Option(help: "Tenant slug.") var tenant: String
    @Option(help: "Tool to cycle.") var tool: String
    @Option(help: "Action to ask for (default: the tool's first capability).") var action: String?
    @Option(help: "Agent to decide as (created if missing).") var agent: String = "chaos-probe"
    @Option(help: "Number of kill/restore cycles.") var cycles: Int = 5
    @Option(help: "Seconds to hold each state.") var delay: Double = 1
    @Option(help: "Up to this many seconds added to or taken from each delay, at random.") var jitter: Double = 0
    @Option(help: "Append one JSON line per step to this file.") var log: String?
    @Option(help: "Seconds to keep asking before a step counts as failed.") var timeout: Double = 5

    func validate() throws {
        guard cycles >= 1, cycles <= 100_000 else { throw ValidationError("--cycles must be 1 to 100000") }
        guard delay >= 0, jitter >= 0, jitter <= delay || delay == 0 && jitter == 0 else {
            throw ValidationError("--delay and --jitter must be at least 0, and --jitter at most --delay")
        }
    }

    func run() async throws {
        let toolInfo = try await client.call("GET", "/v1/tenants/\(tenant)/tools/\(tool)") as? [String: Any] ?? [:]
        let capabilities = toolInfo["capabilities"] as? [String] ?? []
        guard let action = action ?? capabilities.first else { throw CLIError("tool \(tool) offers no action; pass --action") }
        if toolInfo["is_active"] as? Bool == false {
            throw CLIError("tool \(tool) is disabled already; restore it before the drill")
        }
        do {
            _ = try await client.call("POST", "/v1/tenants/\(tenant)/agents", body: ["agent_id": agent, "reason": "warden chaos probe"])
        } catch let error as CLIError where error.failure?.status == 409 {}
        let logFile = try log.map(Self.openLog)
        defer { try? logFile?.close() }

        var killTimes: [Double] = []
        var restoreTimes: [Double] = []
        var failures: [String] = []
        FileHandle.standardError.write(Data("chaos: \(cycles) cycles on \(tenant)/\(tool) (\(action)), delay \(delay)s ± \(jitter)s\n".utf8))
        for cycle in 1...cycles {
            for kill in [true, false] {
                let step = kill ? "kill" : "restore"
                let started = ContinuousClock.now
                do {
                    _ = try await client.call(
                        "POST", "/v1/tenants/\(tenant)/tools/\(tool)/\(step)", body: ["reason": "chaos drill cycle \(cycle)"]
                    )
                } catch {
                    failures.append("cycle \(cycle) \(step): \(error)")
                    if kill { break } else { continue }
                }
                let (observed, attempts) = try await waitForEffect(action: action, disabled: kill)
                let elapsed = Self.milliseconds(ContinuousClock.now - started)
                if observed {
                    if kill { killTimes.append(elapsed) } else { restoreTimes.append(elapsed) }
                    // The very next decision after the call returned must already follow the state.
                    if attempts > 1 { failures.append("cycle \(cycle) \(step): took \(attempts) decisions to take effect") }
                } else {
                    failures.append("cycle \(cycle) \(step): decisions did not follow within \(timeout) s")
                }
                let line: [String: Any] = [
                    "cycle": cycle, "step": step, "time_to_effect_ms": elapsed, "decisions_until_effect": attempts, "ok": observed && attempts == 1,
                    "at": ISO8601DateFormatter().string(from: Date()),
                ]
                if let logFile, let data = try? JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]) {
                    logFile.write(data + Data("\n".utf8))
                }
                FileHandle.standardError.write(Data("cycle \(cycle) \(step): \(observed ? String(format: "%.1f ms", elapsed) : "FAILED")\n".utf8))
                let pause = max(0, delay + (jitter > 0 ? Double.random(in: -jitter...jitter) : 0))
                if pause > 0 { try await Task.sleep(for: .milliseconds(Int(pause * 1000))) }
            }
        }
        let summary: [String: Any] = [
            "cycles": cycles,
            "kill_p50_ms": Self.percentile(killTimes, 0.5), "kill_p99_ms": Self.percentile(killTimes, 0.99),
            "restore_p50_ms": Self.percentile(restoreTimes, 0.5), "restore_p99_ms": Self.percentile(restoreTimes, 0.99),
            "failures": failures.count, "result": failures.isEmpty ? "pass" : "fail",
        ]
        client.print(summary, columns: ["cycles", "kill_p50_ms", "kill_p99_ms", "restore_p50_ms", "restore_p99_ms", "failures", "result"])
        for failure in failures { FileHandle.standardError.write(Data("failure: \(failure)\n".utf8)) }
        if !failures.isEmpty { throw CLIError("chaos drill failed: \(failures.count) check(s) did not pass") }
    }

    /// Asks until the decision reflects the state; returns whether it did and how many decisions it took.
    private func waitForEffect(action: String, disabled: Bool) async throws -> (Bool, Int) {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        var attempts = 0
        while ContinuousClock.now < deadline {
            attempts += 1
            let answer = try await client.call(
                "POST", "/v1/decide", body: ["tenant": tenant, "agent": agent, "tool": tool, "action": action, "input": ["chaos": true]]
            )
            let reasons = (answer as? [String: Any])?["reasons"] as? [String] ?? []
            if reasons.contains("tool_disabled") == disabled { return (true, attempts) }
            try await Task.sleep(for: .milliseconds(10))
        }
        return (false, attempts)
    }

    static func openLog(_ path: String) throws -> FileHandle {
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil) else { throw CLIError("cannot create log file \(path)") }
        }
        guard let handle = FileHandle(forWritingAtPath: path) else { throw CLIError("cannot write log file \(path)") }
        handle.seekToEndOfFile()
        return handle
    }

    static func milliseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    }

    static func percentile(_ values: [Double], _ p: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        let rank = Int((p * Double(sorted.count)).rounded(.up)) - 1
        return (sorted[min(max(rank, 0), sorted.count - 1)] * 10).rounded() / 10
    }
}
