import ArgumentParser

struct APIKeys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "api-keys",
        abstract: "Create, list and revoke API keys.",
        subcommands: [Create.self, List.self, Revoke.self]
    )

    static let columns = ["id", "name", "role", "tenant", "prefix", "created_at", "revoked_at"]

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a key. Its secret is printed once.")
        @OptionGroup var client: ClientOptions
        @Option(help: "A name for the key.") var name: String
        @Option(help: "Role: admin, operator, approver, auditor, author.") var role: String
        @Option(help: "The tenant's slug; omit for a global admin key.") var tenant: String?
        @Option(help: "Why; recorded in the audit trail.") var reason: String?

        func run() async throws {
            var body: [String: Any] = ["name": name, "role": role]
            if let tenant { body["tenant"] = tenant }
            if let reason { body["reason"] = reason }
            client.print(try await client.call("POST", "/v1/api-keys", body: body), columns: APIKeys.columns + ["key"])
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List keys (never their secrets).")
        @OptionGroup var client: ClientOptions
        @Option(help: "Only this tenant's keys.") var tenant: String?
        @Option(help: "Page size (1-500).") var limit: Int?
        @Option(help: "Cursor from a previous page.") var cursor: String?

        func run() async throws {
            var query: [(String, String)] = []
            if let tenant { query.append(("tenant", tenant)) }
            if let limit { query.append(("limit", String(limit))) }
            if let cursor { query.append(("cursor", cursor)) }
            client.print(try await client.call("GET", "/v1/api-keys", query: query), columns: APIKeys.columns)
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key at once.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The key's id.") var id: String
        @Option(help: "Why; recorded in the audit trail.") var reason: String?

        func run() async throws {
            let query = reason.map { [("reason", $0)] } ?? []
            client.print(try await client.call("DELETE", "/v1/api-keys/\(id)", query: query), columns: APIKeys.columns)
        }
    }
}
