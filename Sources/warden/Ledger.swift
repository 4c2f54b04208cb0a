import ArgumentParser
import Foundation
import Logging
import WardenCore
import WardenServer
import WardenStore

/// `warden ledger verify`: check a tenant's hash chain.
struct LedgerCommands: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger", abstract: "Export and check a tenant's tamper-evident ledger.", subcommands: [Verify.self, Export.self, Replay.self])

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute a tenant's hash chain, through the server or straight from the database; exit 1 naming the first broken entry.")
        @OptionGroup var client: ClientOptions
        @Option(help: "Tenant slug (not needed with --file).") var tenant: String?
        @Option(
            help: "Read the database directly (sqlite:///path.db or postgres://…) instead of asking the server; shows progress on stderr.")
        var databaseURL: String?
        @Option(help: "Check an export file offline instead (warden ledger export), with the public keys of --keys.") var file: String?
        @Option(help: "With --file: a JSON file of the public keys to trust, as GET /v1/keys answers.") var keys: String?
        @Flag(
            help:
                "Also compare each entry of a record that never changes (decisions, run steps, annotations, compensations, replays, audit events) with its row."
        )
        var records = false

        func run() async throws {
            let result: [String: Any]
            if let file {
                result = try Self.offline(file: file, keys: keys)
            } else if let databaseURL {
                guard let tenant else { throw CLIError("--tenant is required") }
                result = try await Self.direct(databaseURL: databaseURL, tenant: tenant, records: records)
            } else {
                guard let tenant else { throw CLIError("--tenant is required") }
                guard
                    let answer = try await client.call("GET", "/v1/tenants/\(tenant)/ledger/verify", query: [("records", records ? "true" : "false")])
                        as? [String: Any]
                else {
                    throw CLIError("the server's answer is not an object")
                }
                result = answer
            }
            if client.output == .json {
                client.print(result, columns: [])
            } else if result["valid"] as? Bool == true, let file = result["file"] {
                Swift.print("valid: \(result["entries"] ?? 0) entries in \(file); checksum, chain and signed checkpoints checked")
            } else if result["valid"] as? Bool == true {
                Swift.print(
                    "valid: \(result["entries"] ?? 0) entries, head \(result["head"] ?? 0) \(result["head_hash"] ?? ""), "
                        + "\(result["checkpoints"] ?? 0) signed checkpoint(s) checked"
                        + (records ? ", \(result["records_compared"] ?? 0) record(s) compared with their rows" : ""))
            } else {
                let broken = result["broken"] as? [String: Any] ?? [:]
                let record = (broken["record_id"] as? String).map { " (record \($0))" } ?? ""
                let place = broken["sequence"].map { " at entry \($0)" } ?? ""
                Swift.print(
                    "BROKEN\(place)\(record): \(broken["reason"] ?? "")\n"
                        + "\(result["entries"] ?? 0) entries before it are intact")
            }
            if result["valid"] as? Bool != true { throw ExitCode.failure }
        }

        /// An export file checked without a server: checksum, chain links and hashes, and the signed
        /// checkpoints against the trusted keys.
        static func offline(file: String, keys: String?) throws -> [String: Any] {
            let publicKeys = try keys.map(ProvenanceCommands.Verify.publicKeys) ?? [:]
            guard let handle = FileHandle(forReadingAtPath: file) else { throw CLIError("cannot open \(file)") }
            defer { try? handle.close() }
            let result = LedgerExport.verify(lines: FileLines(handle: handle), publicKeys: publicKeys)
            var answer: [String: Any] = ["valid": result.valid, "entries": result.entries, "file": file]
            if let problem = result.problem { answer["broken"] = ["reason": problem] }
            return answer
        }

        /// The same check over a database connection, without a server.
        static func direct(databaseURL: String, tenant slug: String, records: Bool) async throws -> [String: Any] {
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
                // The key this deployment signs with: the configured one, else the one it keeps in the database;
                // the service adds the retired ones.
                let configuration = try WardenConfiguration.load(
                    configFile: nil, environment: ProcessInfo.processInfo.environment, overrides: .init())
                var signer: LedgerSigner?
                if let key = configuration.ledgerSigningKey {
                    signer = try LedgerSigner(keyID: configuration.ledgerSigningKeyID, privateKey: key)
                } else if let stored = try await store.read({ try await $0.signingKeys.find(purpose: LedgerSigner.keyPurpose) }) {
                    signer = try LedgerSigner(keyID: stored.id, privateKey: stored.key)
                }
                var lastReport = ContinuousClock.now
                let result = try await LedgerService(store: store, signer: signer).verify(tenantID: tenant.id, records: records) { checked, head in
                    let now = ContinuousClock.now
                    guard now - lastReport >= .seconds(1) else { return }
                    lastReport = now
                    FileHandle.standardError.write(Data("… \(checked) of \(head) entries checked\n".utf8))
                }
                await database.close()
                var answer: [String: Any] = [
                    "valid": result.valid, "entries": result.entries, "head": result.head, "head_hash": result.headHash,
                    "checkpoints": result.checkpoints, "records_compared": result.recordsCompared,
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

/// The lines of a file, read 1 MiB at a time (memory stays flat in the file's size).
struct FileLines: Sequence, IteratorProtocol {
    let handle: FileHandle
    var buffer: [UInt8] = []
    var start = 0
    var done = false

    init(handle: FileHandle) { self.handle = handle }

    mutating func next() -> [UInt8]? {
        while true {
            if let newline = buffer[start...].firstIndex(of: 0x0a) {
                let line = Array(buffer[start..<newline])
                start = newline + 1
                return line
            }
            if done {
                guard start < buffer.count else { return nil }
                let line = Array(buffer[start...])
                start = buffer.count
                return line
            }
            buffer.removeFirst(start)
            start = 0
            let chunk = (try? handle.read(upToCount: 1 << 20)) ?? nil
            if let chunk, !chunk.isEmpty { buffer += chunk } else { done = true }
        }
    }
}

extension LedgerCommands {
    /// `warden ledger export`: a tenant's entries in a time range, as JSON lines with a manifest.
    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Export a tenant's ledger (admin, auditor): JSON lines ending with a manifest (counts, chain range, checkpoints, SHA-256).")
        @OptionGroup var client: ClientOptions
        @Option(help: "Tenant slug.") var tenant: String
        @Option(help: "Entries at or after this RFC 3339 time.") var from: String?
        @Option(help: "Entries before this RFC 3339 time.") var to: String?
        @Option(help: "none, standard (pii replaced) or strict (pii, confidential and secret fingerprints replaced).")
        var redactionLevel: String = "standard"
        @Option(help: "jsonl (the only format).") var format: String = "jsonl"
        @Option(help: "Where to write the export.") var out: String

        func run() async throws {
            guard format == "jsonl" else { throw CLIError("--format must be jsonl") }
            guard FileManager.default.createFile(atPath: out, contents: nil), let file = FileHandle(forWritingAtPath: out) else {
                throw CLIError("cannot write \(out)")
            }
            defer { try? file.close() }
            var query = [("redaction", redactionLevel)]
            if let from { query.append(("from", from)) }
            if let to { query.append(("to", to)) }
            var lines = 0
            var last: [UInt8] = []
            var reported = ContinuousClock.now
            try await client.stream("GET", "/v1/tenants/\(tenant)/ledger/export", query: query) { chunk in
                file.write(Data(chunk))
                lines += chunk.reduce(0) { $0 + ($1 == 0x0a ? 1 : 0) }
                last = Array((last + chunk).suffix(64 << 10))
                if ContinuousClock.now - reported >= .seconds(1) {
                    reported = ContinuousClock.now
                    FileHandle.standardError.write(Data("… \(lines) lines written\n".utf8))
                }
            }
            // The manifest is the last line.
            let manifestLine = last.split(separator: 0x0a).last.map(Array.init) ?? []
            guard let manifest = try? JSONSerialization.jsonObject(with: Data(manifestLine)) as? [String: Any],
                manifest["type"] as? String == "manifest"
            else { throw CLIError("the export ended without its manifest; \(out) is incomplete") }
            Swift.print(
                "wrote \(out): \(manifest["entries"] ?? 0) entries (\(manifest["first_sequence"] ?? "-")…\(manifest["last_sequence"] ?? "-")), "
                    + "redaction \(manifest["redaction_level"] ?? "?"), \((manifest["checkpoints"] as? [Any])?.count ?? 0) checkpoint(s), "
                    + "sha256 \(manifest["sha256"] ?? "")")
        }
    }
}

extension LedgerCommands {
    /// `warden ledger replay`: a run replayed under today's policy, with its divergence report.
    struct Replay: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Replay a run as a new linked run (operator, admin): sandbox (default) re-decides every tool call and feeds back the recorded outputs; live calls the tools with the original idempotency keys and needs an approved approval request. Exit 1 if anything diverged."
        )
        @OptionGroup var client: ClientOptions
        @Option(help: "Tenant slug.") var tenant: String
        @Option(help: "The run to replay.") var runId: String
        @Flag(help: "Re-decide only, call nothing (the default).") var sandbox = false
        @Flag(help: "Call the tools' endpoints for real; needs --approval-id.") var live = false
        @Option(help: "With --live: an approved approval request for this run (input.run_id or run_id naming it).") var approvalId: String?
        @Option(help: "Stop after this step.") var untilStep: Int?

        func run() async throws {
            if sandbox && live { throw CLIError("--sandbox and --live exclude each other") }
            var body: [String: Any] = ["mode": live ? "live" : "sandbox"]
            if let approvalId { body["approval_id"] = approvalId }
            if let untilStep { body["until_step"] = untilStep }
            let answer = try await client.call("POST", "/v1/tenants/\(tenant)/runs/\(runId)/replay", body: body)
            guard client.output == .table, let object = answer as? [String: Any], let report = object["report"] as? [String: Any] else {
                return client.print(answer, columns: [])
            }
            client.print(
                ["items": report["steps"] as? [[String: Any]] ?? []],
                columns: [
                    "sequence", "kind", "tool", "original_decision", "replayed_decision", "called", "output_differs", "diverged", "note",
                ])
            Swift.print(
                "\nreplay run \(report["replay_run_id"] ?? "?") (\(report["mode"] ?? "?")): \(report["divergences"] ?? 0) divergence(s) in "
                    + "\(report["steps_replayed"] ?? 0) step(s)")
            if (report["divergences"] as? Int ?? 0) > 0 { throw ExitCode.failure }
        }
    }
}
