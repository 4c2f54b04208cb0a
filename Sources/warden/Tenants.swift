import ArgumentParser
import Foundation

struct Tenants: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create, list, show and change tenants.", subcommands: [Create.self, List.self, Show.self, Update.self])

    static let columns = ["slug", "name", "id", "created_at"]
    static let settingsColumns = [
        "slug", "default_effect", "force_manual_approval", "escalation_paused", "webhooks_paused", "notification_url_set",
    ]
    static let pauseColumns = ["slug", "escalation_paused", "webhooks_paused"]

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One tenant and its settings (--output json for all of them).")
        @OptionGroup var client: ClientOptions
        @Argument(help: "Tenant slug.") var slug: String

        func run() async throws {
            client.print(try await client.call("GET", "/v1/tenants/\(slug)"), columns: Tenants.settingsColumns)
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a tenant's settings (admin); audited as tenant.updated.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "Tenant slug.") var slug: String
        @Option(help: "allow or deny: the effect when no policy decides.") var defaultEffect: String?
        @Option(help: "true: every allow needs a person (the runbook's 'disable auto-approve'); false: back to the tools' levels.")
        var forceManualApproval: Bool?
        @Option(help: "Rollout notification URL; 'none' clears it.") var notificationURL: String?
        @Option(
            help: ArgumentHelp(
                "The escalation ladder as JSON, e.g. '{\"timeouts\":{\"manual_approve\":900},\"escalation_levels\":[{\"name\":\"lead\",\"webhook_url\":\"https://…\"}]}'; 'null' for the defaults."
            ))
        var approvals: String?
        @Option(help: "Why; recorded in the audit trail.") var reason: String?

        func run() async throws {
            var body: [String: Any] = [:]
            if let defaultEffect { body["default_effect"] = defaultEffect }
            if let forceManualApproval { body["force_manual_approval"] = forceManualApproval }
            if let notificationURL { body["notification_url"] = notificationURL == "none" ? NSNull() : notificationURL }
            if let approvals {
                guard let value = try? JSONSerialization.jsonObject(with: Data(approvals.utf8), options: [.fragmentsAllowed]) else {
                    throw CLIError("--approvals must be JSON (an object, or null)")
                }
                body["approvals"] = value
            }
            guard !body.isEmpty else { throw CLIError("give at least one setting to change") }
            if let reason { body["reason"] = reason }
            client.print(try await client.call("PATCH", "/v1/tenants/\(slug)", body: body), columns: Tenants.settingsColumns)
        }
    }

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
