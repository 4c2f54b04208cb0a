import ArgumentParser
import Foundation

/// `warden webhooks list|show|retry|secret|pause|resume`: the tenant's webhook deliveries.
struct Webhooks: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Webhook deliveries and dead letters; retry, pause and resume; the signing secret.",
        subcommands: [List.self, Show.self, Retry.self, Secret.self, Pause.self, Resume.self]
    )

    static let columns = ["id", "event", "status", "attempts", "last_status", "last_error", "receiver", "created_at"]

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Deliveries, newest first, with the count per status.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "Tenant slug.") var tenant: String
        @Option(help: "pending, delivered or dead (the dead letters).") var status: String?
        @Option(help: "At most this many (1 to 500).") var limit: Int = 50

        func run() async throws {
            var query = [("limit", String(limit))]
            if let status { query.append(("status", status)) }
            let answer = try await client.call("GET", "/v1/tenants/\(tenant)/webhooks/deliveries", query: query)
            client.print(answer, columns: Webhooks.columns)
            if client.output == .table, let object = answer as? [String: Any], let counts = object["counts"] as? [String: Any] {
                let paused = (object["paused"] as? Bool) == true ? " (delivery paused)" : ""
                Swift.print(
                    "pending \(counts["pending"] ?? 0), delivered \(counts["delivered"] ?? 0), dead \(counts["dead"] ?? 0)\(paused)")
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One delivery, with its payload (--output json).")
        @OptionGroup var client: ClientOptions
        @Argument(help: "Tenant slug.") var tenant: String
        @Argument(help: "Delivery id (the Warden-Delivery header).") var id: String

        func run() async throws {
            client.print(
                try await client.call("GET", "/v1/tenants/\(tenant)/webhooks/deliveries/\(id)"),
                columns: Webhooks.columns + ["next_attempt_at", "delivered_at"])
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Send a dead letter again now (admin); audited.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "Tenant slug.") var tenant: String
        @Argument(help: "Delivery id.") var id: String

        func run() async throws {
            try await client.post("/v1/tenants/\(tenant)/webhooks/deliveries/\(id)/retry", "reason", nil, columns: Webhooks.columns)
        }
    }

    struct Secret: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The secret receivers verify Warden-Signature with (admin; the read is audited).")
        @OptionGroup var client: ClientOptions
        @Argument(help: "Tenant slug.") var tenant: String

        func run() async throws {
            let answer = try await client.call("GET", "/v1/tenants/\(tenant)/webhooks/secret")
            guard client.output == .table, let object = answer as? [String: Any] else { return client.print(answer, columns: []) }
            Swift.print(object["secret"] ?? "")
        }
    }

    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stop sending the tenant's webhooks (admin); they wait in the queue. Audited.")
        @OptionGroup var client: ClientOptions
        @OptionGroup var change: TenantSwitch

        func run() async throws { try await change.post("webhooks/pause", client) }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Send the tenant's webhooks again, queued ones first (admin). Audited.")
        @OptionGroup var client: ClientOptions
        @OptionGroup var change: TenantSwitch

        func run() async throws { try await change.post("webhooks/resume", client) }
    }
}

/// `TENANT --reason …`: a pause or resume of one of the tenant's switches, printed as the tenant's
/// pause state.
struct TenantSwitch: ParsableArguments {
    @Argument(help: "Tenant slug.") var tenant: String
    @Option(help: "Why (required).") var reason: String

    func post(_ path: String, _ client: ClientOptions) async throws {
        try await client.post("/v1/tenants/\(tenant)/\(path)", "reason", reason, columns: Tenants.pauseColumns)
    }
}
