import ArgumentParser
import Foundation

/// `warden runs list|show|cancel`: what agents did, from the ledger.
struct Runs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List and show agent runs (steps, decisions, approvals); cancel, annotate or roll back a run.",
        subcommands: [List.self, Show.self, Cancel.self, Annotate.self, Rollback.self])

    static let columns = ["id", "agent", "status", "steps", "goal", "created_at", "ended_at"]

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Runs, newest first.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "Tenant slug.") var tenant: String
        @Option(help: "Only this agent's runs.") var agent: String?
        @Option(help: "running, completed, failed or cancelled.") var status: String?
        @Option(help: "Runs created at or after this RFC 3339 time.") var since: String?
        @Option(help: "Runs created before this RFC 3339 time.") var until: String?
        @Option(help: "At most this many (1 to 500).") var limit: Int = 50

        func run() async throws {
            var query = [("limit", String(limit))]
            for (name, value) in [("agent", agent), ("status", status), ("since", since), ("until", until)] {
                if let value { query.append((name, value)) }
            }
            client.print(try await client.call("GET", "/v1/tenants/\(tenant)/runs", query: query), columns: Runs.columns)
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "One run: its steps in order, with the decisions and approvals made under it.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "Tenant slug.") var tenant: String
        @Argument(help: "Run id.") var id: String
        @Flag(help: "JSON lines (the run, then each entry in time order), for incident notes.") var jsonl = false

        func run() async throws {
            if jsonl {
                let text = try await client.text("GET", "/v1/tenants/\(tenant)/runs/\(id)", query: [("format", "jsonl")])
                Swift.print(text, terminator: "")
                return
            }
            let answer = try await client.call("GET", "/v1/tenants/\(tenant)/runs/\(id)")
            guard client.output == .table, let object = answer as? [String: Any] else { return client.print(answer, columns: []) }
            client.print(object, columns: Runs.columns)
            let steps = object["steps"] as? [[String: Any]] ?? []
            Swift.print("")
            client.print(["items": steps], columns: ["sequence", "kind", "tool", "model", "message", "started_at", "ended_at"])
            for (name, columns) in [
                ("decisions", ["id", "tool", "action", "effect", "created_at"]), ("approvals", ["id", "tool", "status", "created_at"]),
            ] {
                let items = object[name] as? [[String: Any]] ?? []
                guard !items.isEmpty else { continue }
                Swift.print("\n\(name):")
                client.print(["items": items], columns: columns)
            }
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel a running run (operator, admin); audited.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "Tenant slug.") var tenant: String
        @Argument(help: "Run id.") var id: String
        @Option(help: "Why (required).") var reason: String

        func run() async throws {
            try await client.post("/v1/tenants/\(tenant)/runs/\(id)/cancel", "reason", reason, columns: Runs.columns)
        }
    }

    struct Annotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a note to a run, or with --override-decision a governed exception (operator, admin; audited).")
        @OptionGroup var client: ClientOptions
        @Argument(help: "Tenant slug.") var tenant: String
        @Argument(help: "Run id.") var id: String
        @Option(help: "The note, or the exception's justification.") var text: String
        @Option(help: "Override this denied decision of the run (a governed exception).") var overrideDecision: String?

        func run() async throws {
            var body: [String: Any] = ["text": text]
            if let overrideDecision { body = ["kind": "exception", "decision_id": overrideDecision, "justification": text] }
            client.print(
                try await client.call("POST", "/v1/tenants/\(tenant)/runs/\(id)/annotations", body: body),
                columns: ["id", "kind", "decision_id", "policy_version", "text", "created_by"])
        }
    }

    struct Rollback: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Compensate a run's completed tool calls, newest first, through their compensating tools (operator, admin; audited); exit 1 if any failed."
        )
        @OptionGroup var client: ClientOptions
        @Argument(help: "Tenant slug.") var tenant: String
        @Argument(help: "Run id.") var id: String
        @Option(help: "Why (required).") var reason: String

        func run() async throws {
            let answer = try await client.call("POST", "/v1/tenants/\(tenant)/runs/\(id)/rollback", body: ["reason": reason])
            client.print(answer, columns: ["step_sequence", "tool", "compensation_tool", "status", "http_status", "detail"])
            let counts = (answer as? [String: Any])?["counts"] as? [String: Int] ?? [:]
            if client.output == .table {
                Swift.print(
                    "\ncompensated \(counts["succeeded"] ?? 0), failed \(counts["failed"] ?? 0), "
                        + "no compensation (effects remain) \(counts["not_compensable"] ?? 0), never completed \(counts["skipped"] ?? 0)")
            }
            if (counts["failed"] ?? 0) > 0 {
                FileHandle.standardError.write(Data("some compensations failed; run the rollback again once their tools answer\n".utf8))
                throw ExitCode.failure
            }
        }
    }
}
