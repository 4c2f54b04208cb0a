import ArgumentParser
import Foundation

/// `warden limits show|set`: a tenant's rate limits.
struct Limits: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show or set a tenant's rate limits (token buckets per tenant, agent and tool).", subcommands: [Show.self, Set.self])

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The limits in force.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "Tenant slug.") var tenant: String

        func run() async throws {
            client.print(try await client.call("GET", "/v1/tenants/\(tenant)/limits"), columns: [])
        }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Replace the limits and budgets (operator, admin; audited). Each limit is RATE[/BURST] in requests a second; give none to remove them all."
        )
        @OptionGroup var client: ClientOptions
        @Argument(help: "Tenant slug.") var tenant: String
        @Option(name: .customLong("tenant-limit"), help: "The whole tenant, e.g. 200/400.") var tenantLimit: String?
        @Option(help: "Every agent, unless --agent-limit names it, e.g. 10/20.") var agent: String?
        @Option(name: .customLong("agent-limit"), help: "One agent: NAME=RATE[/BURST] (repeatable).") var agentLimits: [String] = []
        @Option(help: "Every tool, unless --tool-limit names it.") var tool: String?
        @Option(name: .customLong("tool-limit"), help: "One tool: NAME=RATE[/BURST] (repeatable).") var toolLimits: [String] = []
        @Option(help: "The tenant's cost budget per UTC day.") var tenantDailyBudget: Double?
        @Option(help: "Every agent's cost budget per UTC day, unless --agent-budget names it.") var agentDailyBudget: Double?
        @Option(name: .customLong("agent-budget"), help: "One agent's daily budget: NAME=COST (repeatable).") var agentBudgets: [String] = []
        @Option(help: "Why (required).") var reason: String

        func run() async throws {
            var body: [String: Any] = ["reason": reason]
            if tenantDailyBudget != nil || agentDailyBudget != nil || !agentBudgets.isEmpty {
                var budget: [String: Any] = [:]
                if let tenantDailyBudget { budget["tenant_daily"] = tenantDailyBudget }
                if let agentDailyBudget { budget["agent_daily"] = agentDailyBudget }
                var agents: [String: Double] = [:]
                for entry in agentBudgets {
                    guard let equals = entry.firstIndex(of: "="), let cost = Double(entry[entry.index(after: equals)...]) else {
                        throw CLIError("expected NAME=COST (got '\(entry)')")
                    }
                    agents[String(entry[..<equals])] = cost
                }
                if !agents.isEmpty { budget["agents"] = agents }
                body["budget"] = budget
            }
            if let tenantLimit { body["tenant"] = try Self.limit(tenantLimit) }
            if let agent { body["agent"] = try Self.limit(agent) }
            if let tool { body["tool"] = try Self.limit(tool) }
            if !agentLimits.isEmpty { body["agents"] = try Self.named(agentLimits) }
            if !toolLimits.isEmpty { body["tools"] = try Self.named(toolLimits) }
            client.print(try await client.call("PUT", "/v1/tenants/\(tenant)/limits", body: body), columns: [])
        }

        static func limit(_ text: String) throws -> [String: Double] {
            let parts = text.split(separator: "/", omittingEmptySubsequences: false)
            guard (1...2).contains(parts.count), let rate = Double(parts[0]) else {
                throw CLIError("a limit is RATE or RATE/BURST, e.g. 10/20 (got '\(text)')")
            }
            guard parts.count == 2 else { return ["rate": rate] }
            guard let burst = Double(parts[1]) else { throw CLIError("a limit is RATE or RATE/BURST, e.g. 10/20 (got '\(text)')") }
            return ["rate": rate, "burst": burst]
        }

        static func named(_ entries: [String]) throws -> [String: [String: Double]] {
            var result: [String: [String: Double]] = [:]
            for entry in entries {
                guard let equals = entry.firstIndex(of: "=") else { throw CLIError("expected NAME=RATE[/BURST] (got '\(entry)')") }
                result[String(entry[..<equals])] = try limit(String(entry[entry.index(after: equals)...]))
            }
            return result
        }
    }
}

/// `warden panic enable|disable|status`: deny every decision of a tenant at once.
struct Panic: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Panic mode: deny every decision of a tenant (tenant_panic) until disabled or expired.",
        subcommands: [Enable.self, Disable.self, Status.self])

    static let columns = ["enabled", "since", "until", "reason", "by"]

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Switch panic mode on (operator, admin; audited).")
        @OptionGroup var client: ClientOptions
        @Argument(help: "Tenant slug.") var tenant: String
        @Option(help: "Why (required).") var reason: String
        @Option(help: "End by itself after this many seconds.") var expiresIn: Int?

        func run() async throws {
            var body: [String: Any] = ["enabled": true, "reason": reason]
            if let expiresIn { body["expires_in"] = expiresIn }
            client.print(try await client.call("POST", "/v1/tenants/\(tenant)/panic", body: body), columns: Panic.columns)
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Switch panic mode off (operator, admin; audited).")
        @OptionGroup var client: ClientOptions
        @Argument(help: "Tenant slug.") var tenant: String
        @Option(help: "Why (required).") var reason: String

        func run() async throws {
            client.print(
                try await client.call("POST", "/v1/tenants/\(tenant)/panic", body: ["enabled": false, "reason": reason]), columns: Panic.columns)
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Whether panic mode is on.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "Tenant slug.") var tenant: String

        func run() async throws {
            client.print(try await client.call("GET", "/v1/tenants/\(tenant)/panic"), columns: Panic.columns)
        }
    }
}

/// `warden notifications add|list|remove`: webhooks for a tenant's operational events.
struct NotificationCommands: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "notifications",
        abstract: "Webhooks for operational events (kill, restore, panic, rollback, incident, bypass), signed and retried.",
        subcommands: [Add.self, List.self, Remove.self])

    static let columns = ["id", "receiver", "format", "events", "created_at"]

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Register a webhook (admin; audited).")
        @OptionGroup var client: ClientOptions
        @Argument(help: "Tenant slug.") var tenant: String
        @Option(help: "Where to post (http or https).") var url: String
        @Option(name: .customLong("event"), help: "An event to send (repeatable); none: all of them.") var events: [String] = []
        @Option(help: "warden (the event as JSON) or slack ({\"text\": …}).") var format: String = "warden"

        func run() async throws {
            client.print(
                try await client.call("POST", "/v1/tenants/\(tenant)/notifications", body: ["url": url, "events": events, "format": format]),
                columns: NotificationCommands.columns)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The tenant's webhooks (the URL itself is never shown).")
        @OptionGroup var client: ClientOptions
        @Argument(help: "Tenant slug.") var tenant: String

        func run() async throws {
            client.print(try await client.call("GET", "/v1/tenants/\(tenant)/notifications"), columns: NotificationCommands.columns)
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a webhook (admin; audited).")
        @OptionGroup var client: ClientOptions
        @Argument(help: "Tenant slug.") var tenant: String
        @Argument(help: "Webhook id.") var id: String

        func run() async throws {
            _ = try await client.callWithStatus("DELETE", "/v1/tenants/\(tenant)/notifications/\(id)")
            Swift.print("removed \(id)")
        }
    }
}
