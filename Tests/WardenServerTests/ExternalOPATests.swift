import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@testable import WardenServer

/// Bundles that delegate to an OPA server, against OPA's own engine: `scripts/opa-test-server` serves
/// OPA's data API from its C library (installed by scripts/install-peers; the test is skipped with a
/// note when it is absent).
@Suite struct ExternalOPATests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let policy = #"""
        package warden

        default decision := "allow"

        decision := {"effect": "deny", "reasons": ["opa: refunds above 100 need a human"]} if {
            input.tool.name == "refund"
            input.request.amount > 100
        }
        """#

    /// Starts the test server on a random port and loads `policy` into it with OPA's policy API;
    /// `nil` (with a note) when OPA's library is not installed.
    static func startServer() async throws -> (Process, Int)? {
        let library = packageRoot.appendingPathComponent(".peers/opa/libopabridge.so").path
        guard FileManager.default.fileExists(atPath: library) else {
            print("note: OPA's C library not found at \(library) (run scripts/install-peers); external OPA test skipped")
            return nil
        }
        let port = Int.random(in: 20_000..<40_000)
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        server.arguments = ["python3", packageRoot.appendingPathComponent("scripts/opa-test-server").path, String(port), library]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        let policyFile = FileManager.default.temporaryDirectory.appendingPathComponent("warden-opa-\(UUID()).rego")
        try policy.write(to: policyFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: policyFile) }
        let put = Process()
        put.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        put.arguments = [
            "curl", "-sf", "--retry", "50", "--retry-connrefused", "--retry-delay", "1", "--max-time", "60", "-X", "PUT",
            "--data-binary", "@\(policyFile.path)", "http://127.0.0.1:\(port)/v1/policies/warden",
        ]
        put.standardOutput = FileHandle.nullDevice
        put.standardError = FileHandle.nullDevice
        // Awaited through the termination handler: waitUntilExit spins a run loop, which hangs here.
        let status: Int32 = await withCheckedContinuation { continuation in
            put.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do {
                try put.run()
            } catch {
                continuation.resume(returning: -1)
            }
        }
        guard status == 0 else {
            server.terminate()
            Issue.record("the OPA test server did not take the policy (curl exit \(status))")
            return nil
        }
        return (server, port)
    }

    @Test func opaDecidesAndAFailureDenies() async throws {
        guard let (server, port) = try await Self.startServer() else { return }
        defer { kill(server.processIdentifier, SIGKILL) }
        try await TestApp.run(.sqlite) { client in
            let demo = try await Demo.setUp(client)
            func bundle(_ version: String, path: String, timeout: Int = 1000) async throws {
                let created = try await client.send(
                    .post, "/v1/tenants/acme/bundles",
                    json: #"{"version":"\#(version)","opa":{"url":"http://127.0.0.1:\#(port)","path":"\#(path)","timeout_ms":\#(timeout)}}"#)
                let id = try #require(try created.object()["id"] as? String, "\(created.text)")
                try await client.approveBundle(tenant: "acme", id)
                #expect(try await client.send(.post, "/v1/tenants/acme/bundles/\(id)/activate").status == .ok)
            }
            func decide(_ amount: Int) async throws -> (String, [String]) {
                try await client.send(
                    .post, "/v1/decide", token: demo.token, json: #"{"tool":"refund","action":"create","input":{"amount":\#(amount)}}"#
                ).decision()
            }
            try await bundle("1.0.0", path: "warden/decision")
            #expect(try await decide(500) == ("deny", ["opa: refunds above 100 need a human"]))
            #expect(try await decide(5) == ("allow", ["policy_allow"]))
            // OPA slower than the bundle's timeout: deny, fail closed, and the timeout ends the wait.
            try await bundle("1.1.0", path: "slow/warden/decision", timeout: 200)
            let started = ContinuousClock.now
            #expect(try await decide(5) == ("deny", ["policy_unavailable"]))
            #expect(ContinuousClock.now - started < .seconds(2))
            // An undefined document is a no-match.
            try await bundle("1.2.0", path: "warden/nothing_here")
            #expect(try await decide(5) == ("deny", ["no_match"]))
            // OPA gone: deny.
            kill(server.processIdentifier, SIGKILL)
            try await Task.sleep(for: .milliseconds(300))
            try await bundle("1.3.0", path: "warden/decision")
            #expect(try await decide(5) == ("deny", ["policy_unavailable"]))
            // A bad OPA address is refused when the bundle is created.
            let bad = try await client.send(
                .post, "/v1/tenants/acme/bundles", json: #"{"version":"2.0.0","opa":{"url":"ftp://x","path":"warden/decision"}}"#)
            #expect(bad.status == .badRequest)
        }
    }
}
