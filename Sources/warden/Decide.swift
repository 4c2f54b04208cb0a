import ArgumentParser
import Foundation

/// `warden decide`: exit 0 on allow, 3 on deny, 4 on require_approval.
struct Decide: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ask for a decision. Exit status: 0 allow, 3 deny, 4 require_approval, 1 error.",
        discussion: "With an agent token (--token or WARDEN_TOKEN) the tenant and agent come from the token; with an admin key name them."
    )
    @OptionGroup var client: ClientOptions
    @Argument(help: "Tool name.") var tool: String
    @Argument(help: "Action.") var action: String
    @Option(help: "Tenant slug (with an API key).") var tenant: String?
    @Option(help: "Agent id (with an API key).") var agent: String?
    @Option(help: "The tool call's input as JSON (default {}).") var input: String = "{}"
    @Option(help: "Run id to link the decision to.") var runID: String?
    @Option(help: "Cost of the call.") var cost: Double?

    func run() async throws {
        guard let parsed = try? JSONSerialization.jsonObject(with: Data(input.utf8), options: [.fragmentsAllowed]) else {
            throw ValidationError("--input is not valid JSON")
        }
        var body: [String: Any] = ["tool": tool, "action": action, "input": parsed]
        if let tenant { body["tenant"] = tenant }
        if let agent { body["agent"] = agent }
        if let runID { body["run_id"] = runID }
        if let cost { body["cost"] = cost }
        let answer: Any
        do {
            answer = try await client.call("POST", "/v1/decide", body: body)
        } catch let error as CLIError where error.failure?.status == 429 {
            // Denied by a rate limit: a deny (exit 3), with when to try again.
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            throw ExitCode(3)
        }
        client.print(answer, columns: ["effect", "reasons", "bundle", "decision_id", "approval_id", "evaluated_ns"])
        switch (answer as? [String: Any])?["effect"] as? String {
        case "allow": return
        case "deny": throw ExitCode(3)
        case "require_approval": throw ExitCode(4)
        default: throw CLIError("unexpected answer from the server")
        }
    }
}

struct Decisions: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Read the decision log.", subcommands: [List.self, Show.self])

    static let columns = ["created_at", "agent_id", "tool", "action", "effect", "reasons", "bundle", "id"]

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List decisions, newest first.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "Tenant slug.") var tenant: String
        @Option(help: "allow, deny or require_approval.") var effect: String?
        @Option(help: "Only this tool.") var tool: String?
        @Option(help: "Only this agent.") var agent: String?
        @Option(help: "Only decisions made by this bundle version.") var bundle: String?
        @Option(help: "From this time (RFC 3339).") var since: String?
        @Option(help: "Before this time (RFC 3339).") var until: String?
        @OptionGroup var paging: Paging

        func run() async throws {
            var query = paging.query
            for (name, value) in [("effect", effect), ("tool", tool), ("agent", agent), ("bundle", bundle), ("since", since), ("until", until)] {
                if let value { query.append((name, value)) }
            }
            client.print(try await client.call("GET", "/v1/tenants/\(tenant)/decisions", query: query), columns: Decisions.columns)
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one decision record.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "Tenant slug.") var tenant: String
        @Argument(help: "Decision id.") var id: String

        func run() async throws {
            client.print(
                try await client.call("GET", "/v1/tenants/\(tenant)/decisions/\(id)"),
                columns: Decisions.columns + ["input", "bundle", "run_id", "evaluated_ns", "trace_id"]
            )
        }
    }
}
