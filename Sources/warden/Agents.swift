import ArgumentParser

struct Agents: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create agents, issue and revoke their tokens.", subcommands: [Create.self, List.self, Token.self, RevokeToken.self]
    )

    static let columns = ["agent_id", "roles", "created_at", "created_by"]

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an agent (admin).")
        @OptionGroup var client: ClientOptions
        @Argument(help: "Tenant slug.") var tenant: String
        @Argument(help: "Agent id.") var agent: String
        @Option(name: .customLong("role"), help: "A role of the agent (repeatable).") var roles: [String] = []
        @Option(help: "Why; recorded in the audit trail.") var reason: String?

        func run() async throws {
            var body: [String: Any] = ["agent_id": agent, "roles": roles]
            if let reason { body["reason"] = reason }
            client.print(try await client.call("POST", "/v1/tenants/\(tenant)/agents", body: body), columns: Agents.columns)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a tenant's agents.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "Tenant slug.") var tenant: String
        @OptionGroup var paging: Paging

        func run() async throws {
            client.print(try await client.call("GET", "/v1/tenants/\(tenant)/agents", query: paging.query), columns: Agents.columns)
        }
    }

    struct Token: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Issue a token for an agent (admin). It is shown once.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "Tenant slug.") var tenant: String
        @Argument(help: "Agent id.") var agent: String
        @Option(help: "Lifetime in seconds (60 to 31622400; default 30 days).") var ttl: Int?
        @Option(help: "Why; recorded in the audit trail.") var reason: String?

        func run() async throws {
            var body: [String: Any] = [:]
            if let ttl { body["ttl_seconds"] = ttl }
            if let reason { body["reason"] = reason }
            client.print(
                try await client.call("POST", "/v1/tenants/\(tenant)/agents/\(agent)/tokens", body: body),
                columns: ["token_id", "agent_id", "expires_at", "token"]
            )
        }
    }

    struct RevokeToken: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "revoke-token", abstract: "Revoke an agent token (admin); the next request with it is refused."
        )
        @OptionGroup var client: ClientOptions
        @Argument(help: "Tenant slug.") var tenant: String
        @Argument(help: "Token id.") var tokenID: String
        @Option(help: "Why; recorded in the audit trail.") var reason: String?

        func run() async throws {
            let query = reason.map { [("reason", $0)] } ?? []
            client.print(
                try await client.call("DELETE", "/v1/tenants/\(tenant)/tokens/\(tokenID)", query: query),
                columns: ["token_id", "agent_id", "revoked_at"]
            )
        }
    }
}

/// `--limit` and `--cursor` for list commands.
struct Paging: ParsableArguments {
    @Option(help: "Page size (1-500).") var limit: Int?
    @Option(help: "Cursor from a previous page.") var cursor: String?

    var query: [(String, String)] {
        var query: [(String, String)] = []
        if let limit { query.append(("limit", String(limit))) }
        if let cursor { query.append(("cursor", cursor)) }
        return query
    }
}
