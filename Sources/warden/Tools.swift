import ArgumentParser

struct Tools: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Register, list and show tools.", subcommands: [Register.self, List.self, Show.self]
    )

    static let columns = ["name", "risk", "is_active", "state_version", "approval_level", "capabilities", "stale_adapters"]

    struct Register: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Register a tool (admin, operator).")
        @OptionGroup var client: ClientOptions
        @Argument(help: "Tenant slug.") var tenant: String
        @Argument(help: "Tool name.") var name: String
        @Option(help: "low, medium, high or critical.") var risk: String
        @Option(name: .customLong("capability"), help: "An action the tool offers (repeatable).") var capabilities: [String] = []
        @Option(help: "auto_approve, manual_approve or two_person.") var approvalLevel: String = "auto_approve"
        @Option(help: "What the tool does.") var description: String?
        @Option(help: "The tool's http(s) endpoint.") var endpoint: String?
        @Option(help: "How a call is undone (for example the compensating tool).") var compensation: String?
        @Option(help: "Why; recorded in the audit trail.") var reason: String?

        func run() async throws {
            var body: [String: Any] = ["name": name, "risk": risk, "capabilities": capabilities, "approval_level": approvalLevel]
            if let description { body["description"] = description }
            if let endpoint { body["endpoint"] = endpoint }
            if let compensation { body["compensation"] = compensation }
            if let reason { body["reason"] = reason }
            client.print(try await client.call("POST", "/v1/tenants/\(tenant)/tools", body: body), columns: Tools.columns)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a tenant's tools with their state.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "Tenant slug.") var tenant: String
        @OptionGroup var paging: Paging

        func run() async throws {
            client.print(try await client.call("GET", "/v1/tenants/\(tenant)/tools", query: paging.query), columns: Tools.columns)
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a tool: state, reason and adapter acknowledgements.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "Tenant slug.") var tenant: String
        @Argument(help: "Tool name.") var name: String

        func run() async throws {
            client.print(
                try await client.call("GET", "/v1/tenants/\(tenant)/tools/\(name)"),
                columns: Tools.columns + ["state_reason", "state_changed_at", "state_changed_by"]
            )
        }
    }
}

/// `warden kill TENANT TOOL --reason …`
struct Kill: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Kill switch: disable a tool now (operator). The next decision for it is denied with tool_disabled."
    )
    @OptionGroup var target: ToolStateChange

    func run() async throws { try await target.send("kill") }
}

/// `warden restore TENANT TOOL --reason …`
struct Restore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Restore a killed tool (operator).")
    @OptionGroup var target: ToolStateChange

    func run() async throws { try await target.send("restore") }
}

/// What `kill` and `restore` take.
struct ToolStateChange: ParsableArguments {
    @OptionGroup var client: ClientOptions
    @Argument(help: "Tenant slug.") var tenant: String
    @Argument(help: "Tool name.") var tool: String
    @Option(help: "Why; required, recorded in the audit trail.") var reason: String

    func send(_ change: String) async throws {
        client.print(
            try await client.call("POST", "/v1/tenants/\(tenant)/tools/\(tool)/\(change)", body: ["reason": reason]),
            columns: ["name", "is_active", "state_version", "state_reason", "state_changed_at"]
        )
    }
}
