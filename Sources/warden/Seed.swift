import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// `warden seed`: waits for the server, then creates a demo tenant with agents and tools. Safe to run again.
struct Seed: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create a demo tenant, agents and tools (idempotent). Waits for /healthz first."
    )
    @OptionGroup var client: ClientOptions
    @Option(help: "Tenant slug to create.") var tenant: String = "demo"
    @Option(help: "Seconds to wait for the server to become healthy.") var wait: Int = 60
    @Flag(help: "Also issue a token for the demo agent and print it (once).") var issueToken = false

    static let agents: [(String, [String])] = [("support-bot", ["support"]), ("ops-bot", ["operations"])]
    static var tools: [[String: Any]] {
        [
            [
                "name": "search", "description": "Search the knowledge base", "risk": "low", "capabilities": ["query"],
                "approval_level": "auto_approve",
            ],
            [
                "name": "email", "description": "Send an email to a customer", "risk": "medium", "capabilities": ["send", "draft"],
                "approval_level": "auto_approve",
            ],
            [
                "name": "refund", "description": "Refund an order", "risk": "high", "capabilities": ["create", "read"],
                "approval_level": "manual_approve", "compensation": "refund.reverse",
            ],
            ["name": "shell", "description": "Run a shell command", "risk": "critical", "capabilities": ["exec"], "approval_level": "two_person"],
        ]
    }

    func run() async throws {
        try await Self.waitForHealth(client: client, seconds: wait)
        var steps: [(String, String)] = []
        steps.append(
            (
                "tenant \(tenant)",
                try await ensure(
                    "POST", "/v1/tenants", ["slug": tenant, "name": "Demo", "default_effect": "allow", "reason": "warden seed"]
                )
            )
        )
        for (agent, roles) in Self.agents {
            steps.append(
                (
                    "agent \(agent)",
                    try await ensure("POST", "/v1/tenants/\(tenant)/agents", ["agent_id": agent, "roles": roles, "reason": "warden seed"])
                )
            )
        }
        for tool in Self.tools {
            var body = tool
            body["reason"] = "warden seed"
            steps.append(("tool \(tool["name"] as? String ?? "?")", try await ensure("POST", "/v1/tenants/\(tenant)/tools", body)))
        }
        // Registry check, as the runbook's "re-run seed to validate registry operations" asks.
        let listed = try await client.call("GET", "/v1/tenants/\(tenant)/tools")
        let names = ((listed as? [String: Any])?["items"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
        let missing = Self.tools.compactMap { $0["name"] as? String }.filter { !names.contains($0) }
        guard missing.isEmpty else { throw CLIError("registry check failed: tools missing after seeding: \(missing.joined(separator: ", "))") }
        steps.append(("registry check", "ok (\(names.count) tools)"))
        if issueToken {
            let issued = try await client.call(
                "POST", "/v1/tenants/\(tenant)/agents/support-bot/tokens", body: ["reason": "warden seed --issue-token"]
            )
            steps.append(("token for support-bot", (issued as? [String: Any])?["token"] as? String ?? "?"))
        }
        client.print(steps.map { ["step": $0.0, "result": $0.1] }.asItems, columns: ["step", "result"])
    }

    /// Creates, or accepts that it already exists (409).
    private func ensure(_ method: String, _ path: String, _ body: [String: Any]) async throws -> String {
        do {
            _ = try await client.call(method, path, body: body)
            return "created"
        } catch let error as CLIError where error.failure?.status == 409 {
            return "already exists"
        }
    }

    static func waitForHealth(client: ClientOptions, seconds: Int) async throws {
        let deadline = ContinuousClock.now + .seconds(seconds)
        var announced = false
        while true {
            var request = HTTPClientRequest(url: client.baseURL + "/healthz")
            request.method = .GET
            if let response = try? await HTTPClient.shared.execute(request, timeout: .seconds(3)), response.status.code == 200 {
                if announced { FileHandle.standardError.write(Data(" ok\n".utf8)) }
                return
            }
            guard ContinuousClock.now < deadline else {
                if announced { FileHandle.standardError.write(Data("\n".utf8)) }
                throw CLIError("Control plane health check failed: \(client.baseURL)/healthz did not answer 200 within \(seconds) s")
            }
            if !announced {
                FileHandle.standardError.write(Data("waiting for \(client.baseURL)/healthz ".utf8))
                announced = true
            } else {
                FileHandle.standardError.write(Data(".".utf8))
            }
            try await Task.sleep(for: .seconds(1))
        }
    }
}

extension Array where Element == [String: String] {
    var asItems: [String: Any] { ["items": self] }
}
