import ArgumentParser

struct Tenants: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create and list tenants.", subcommands: [Create.self, List.self])

    static let columns = ["slug", "name", "id", "created_at"]

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a tenant (global admin).")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The tenant's slug: lowercase letters, digits and hyphens.") var slug: String
        @Option(help: "Display name (default: the slug).") var name: String?
        @Option(help: "Why; recorded in the audit trail.") var reason: String?

        func run() async throws {
            var body: [String: Any] = ["slug": slug]
            if let name { body["name"] = name }
            if let reason { body["reason"] = reason }
            client.print(try await client.call("POST", "/v1/tenants", body: body), columns: Tenants.columns)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tenants.")
        @OptionGroup var client: ClientOptions
        @Option(help: "Page size (1-500).") var limit: Int?
        @Option(help: "Cursor from a previous page.") var cursor: String?

        func run() async throws {
            var query: [(String, String)] = []
            if let limit { query.append(("limit", String(limit))) }
            if let cursor { query.append(("cursor", cursor)) }
            client.print(try await client.call("GET", "/v1/tenants", query: query), columns: Tenants.columns)
        }
    }
}
