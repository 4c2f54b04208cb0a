import ArgumentParser
import Foundation

/// `warden keys list|rotate`: the keys Warden signs with.
struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the public keys Warden signs with; rotate the ledger checkpoint key.", subcommands: [List.self, Rotate.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Public keys, current and retired (save --output json for offline checks).")
        @OptionGroup var client: ClientOptions

        func run() async throws {
            client.print(try await client.call("GET", "/v1/keys"), columns: ["key_id", "purpose", "status", "created_at", "retired_at"])
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A new ledger checkpoint signing key from now on (global admin); the old one stays trusted for what it signed. Audited.")
        @OptionGroup var client: ClientOptions
        @Option(help: "Which key: ledger_checkpoint.") var purpose: String = "ledger_checkpoint"
        @Option(help: "Why (required).") var reason: String

        func run() async throws {
            let answer = try await client.call("POST", "/v1/keys/rotate", body: ["purpose": purpose, "reason": reason])
            guard client.output == .table, let object = answer as? [String: Any] else { return client.print(answer, columns: []) }
            Swift.print(
                "rotated \(object["purpose"] ?? purpose): \(object["retired_key_id"] ?? "?") retired, \(object["key_id"] ?? "?") signs from now on")
        }
    }
}
