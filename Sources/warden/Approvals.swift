import ArgumentParser
import Foundation

/// `warden approvals list|show|approve|reject|reject-pending`: people decide `require_approval` decisions.
struct Approvals: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "approvals", abstract: "List, show, approve and reject approval requests.",
        subcommands: [
            List.self, Show.self, Approve.self, Reject.self, RejectPending.self, EscalateNow.self, PauseEscalation.self,
            ResumeEscalation.self,
        ]
    )

    static let columns = ["id", "status", "agent", "tool", "action", "level", "approvals", "reason", "expires_at"]

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Approval requests, newest first.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "Tenant slug.") var tenant: String
        @Option(help: "pending, approved, rejected, expired or escalated.") var status: String?
        @Option(help: "At most this many (1 to 500).") var limit: Int = 50

        func run() async throws {
            var query = [("limit", String(limit))]
            if let status { query.append(("status", status)) }
            client.print(try await client.call("GET", "/v1/tenants/\(tenant)/approvals", query: query), columns: Approvals.columns)
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One request, with its status history (--output json).")
        @OptionGroup var client: ClientOptions
        @Argument(help: "Tenant slug.") var tenant: String
        @Argument(help: "Approval id.") var id: String
        @Option(help: "Wait up to this many seconds (at most 60) for it to be resolved.") var wait: Double?

        func run() async throws {
            let query = wait.map { [("wait", String($0))] } ?? []
            client.print(
                try await client.call("GET", "/v1/tenants/\(tenant)/approvals/\(id)", query: query),
                columns: Approvals.columns + ["requested_by", "resolved_at"])
        }
    }

    /// A vote on one request, with an optional comment.
    struct Vote: ParsableArguments {
        @Argument(help: "Tenant slug.") var tenant: String
        @Argument(help: "Approval id.") var id: String
        @Option(help: "Kept in the request's status history and the audit trail.") var comment: String?

        func post(_ verb: String, _ client: ClientOptions) async throws {
            try await client.post("/v1/tenants/\(tenant)/approvals/\(id)/\(verb)", "comment", comment, columns: Approvals.columns)
        }
    }

    struct Approve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Approve (approver, admin; not your own request).")
        @OptionGroup var client: ClientOptions
        @OptionGroup var vote: Vote

        func run() async throws { try await vote.post("approve", client) }
    }

    struct Reject: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Reject (approver, admin; not your own request).")
        @OptionGroup var client: ClientOptions
        @OptionGroup var vote: Vote

        func run() async throws { try await vote.post("reject", client) }
    }

    struct RejectPending: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "reject-pending", abstract: "Reject every pending request of the tenant at once (admin); audited.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "Tenant slug.") var tenant: String
        @Option(help: "Why (required).") var reason: String

        func run() async throws {
            let answer = try await client.call("POST", "/v1/tenants/\(tenant)/approvals/reject-pending", body: ["reason": reason])
            guard client.output == .table, let object = answer as? [String: Any] else { return client.print(answer, columns: []) }
            Swift.print("rejected \(object["rejected"] ?? 0) pending request(s)")
        }
    }

    struct EscalateNow: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "escalate-now", abstract: "Run one escalation pass for the tenant now (admin): escalate and expire what is due.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "Tenant slug.") var tenant: String

        func run() async throws {
            let answer = try await client.call("POST", "/v1/tenants/\(tenant)/approvals/escalate-now")
            guard client.output == .table, let object = answer as? [String: Any] else { return client.print(answer, columns: []) }
            Swift.print("escalated \(object["escalated"] ?? 0), expired \(object["expired"] ?? 0)")
        }
    }

    struct PauseEscalation: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "pause-escalation",
            abstract: "Leave the tenant out of the background escalation pass (admin); escalate-now still runs. Audited.")
        @OptionGroup var client: ClientOptions
        @OptionGroup var change: TenantSwitch

        func run() async throws { try await change.post("approvals/escalation/pause", client) }
    }

    struct ResumeEscalation: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "resume-escalation", abstract: "Put the tenant back into the escalation pass (admin). Audited.")
        @OptionGroup var client: ClientOptions
        @OptionGroup var change: TenantSwitch

        func run() async throws { try await change.post("approvals/escalation/resume", client) }
    }
}
