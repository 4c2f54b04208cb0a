import ArgumentParser
import Foundation
import Logging
import WardenCore
import WardenStore

/// `warden ledger verify`: check a tenant's hash chain.
struct LedgerCommands: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger", abstract: "Check a tenant's tamper-evident ledger.", subcommands: [Verify.self])

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute a tenant's hash chain, through the server or straight from the database; exit 1 naming the first broken entry.")
        @OptionGroup var client: ClientOptions
        @Option(help: "Tenant slug.") var tenant: String
        @Option(
            help: "Read the database directly (sqlite:///path.db or postgres://…) instead of asking the server; shows progress on stderr.")
        var databaseURL: String?

        func run() async throws {
            let result: [String: Any]
            if let databaseURL {
                result = try await Self.direct(databaseURL: databaseURL, tenant: tenant)
            } else {
                guard let answer = try await client.call("GET", "/v1/tenants/\(tenant)/ledger/verify") as? [String: Any] else {
                    throw CLIError("the server's answer is not an object")
                }
                result = answer
            }
            if client.output == .json {
                client.print(result, columns: [])
            } else if result["valid"] as? Bool == true {
                Swift.print(
                    "valid: \(result["entries"] ?? 0) entries, head \(result["head"] ?? 0) \(result["head_hash"] ?? ""), "
                        + "\(result["checkpoints"] ?? 0) signed checkpoint(s) checked")
            } else {
                let broken = result["broken"] as? [String: Any] ?? [:]
                let record = (broken["record_id"] as? String).map { " (record \($0))" } ?? ""
                Swift.print(
                    "BROKEN at entry \(broken["sequence"] ?? "?")\(record): \(broken["reason"] ?? "")\n"
                        + "\(result["entries"] ?? 0) entries before it are intact")
            }
            if result["valid"] as? Bool != true { throw ExitCode.failure }
        }

        /// The same check over a database connection, without a server.
        static func direct(databaseURL: String, tenant slug: String) async throws -> [String: Any] {
            var logger = Logger(label: "warden.ledger")
            logger.logLevel = .warning
            let database: Database
            do {
                database = try await Database.open(try DatabaseLocation(parsing: databaseURL), logger: logger)
            } catch {
                throw CLIError("\(error)")
            }
            do {
                let store = SQLStore(database: database)
                guard let tenant = try await store.read({ try await $0.tenants.find(slug: slug) }) else {
                    throw CLIError("tenant '\(slug)' not found")
                }
                let (head, checkpoints, keys) = try await store.read { repos in
                    (
                        try await repos.ledger.head(tenantID: tenant.id), try await repos.ledger.checkpoints(tenantID: tenant.id),
                        try await repos.signingKeys.all()
                    )
                }
                // The keys this deployment signs with: the configured one, else the one it keeps in the database.
                var publicKeys: [String: [UInt8]] = [:]
                for key in keys where key.purpose == LedgerSigner.keyPurpose { publicKeys[key.id] = LedgerSigner.publicKey(ofPrivate: key.key) }
                if let text = ProcessInfo.processInfo.environment["WARDEN_LEDGER_SIGNING_KEY"], let raw = Data(base64Encoded: text),
                    let publicKey = LedgerSigner.publicKey(ofPrivate: Array(raw))
                {
                    publicKeys[ProcessInfo.processInfo.environment["WARDEN_LEDGER_SIGNING_KEY_ID"] ?? "ledger-1"] = publicKey
                }
                let started = ContinuousClock.now
                var lastReport = started
                let result = try await LedgerService.verify(head: head, checkpoints: checkpoints, publicKeys: publicKeys) { after, limit in
                    try await store.read { try await $0.ledger.entries(tenantID: tenant.id, after: after, limit: limit) }
                } progress: { checked in
                    let now = ContinuousClock.now
                    guard now - lastReport >= .seconds(1) else { return }
                    lastReport = now
                    FileHandle.standardError.write(Data("… \(checked) of \(head.sequence) entries checked\n".utf8))
                }
                await database.close()
                var answer: [String: Any] = [
                    "valid": result.valid, "entries": result.entries, "head": result.head, "head_hash": result.headHash,
                    "checkpoints": result.checkpoints,
                ]
                if let broken = result.broken {
                    answer["broken"] = ["sequence": broken.sequence, "record_id": broken.recordID as Any, "reason": broken.reason]
                }
                return answer
            } catch {
                await database.close()
                if let error = error as? CLIError { throw error }
                throw CLIError("\(error)")
            }
        }
    }
}
