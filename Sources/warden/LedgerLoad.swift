import ArgumentParser
import Foundation
import Logging
import WardenCore
import WardenStore

extension LoadTest {
    /// `warden loadtest ledger`: appends decision records with their ledger entries straight into a
    /// database (the decision log's path, without HTTP), then verifies and exports the chain, and
    /// prints the rate of each.
    struct LedgerLoad: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ledger",
            abstract: "Append N decision records with their ledger entries into a scratch tenant, then verify and export the chain; print rates.")
        @Option(help: "Database URL (sqlite:///path.db or postgres://…); a scratch tenant is created in it.") var databaseURL: String
        @Option(help: "Records to append.") var records: Int = 100_000
        @Option(help: "Records per transaction (the decision log's batch).") var batch: Int = 500
        @Option(help: "Also write the export to this file (default: discard).") var out: String?
        @Option(help: "Sign a checkpoint of the chain head every this many records (the server's default).") var checkpointEvery = 10_000

        func validate() throws {
            guard (1...10_000_000).contains(records) else { throw ValidationError("--records must be 1 to 10000000") }
            guard (1...10_000).contains(batch) else { throw ValidationError("--batch must be 1 to 10000") }
        }

        func run() async throws {
            var logger = Logger(label: "warden.loadtest")
            logger.logLevel = .warning
            let database = try await Database.open(try DatabaseLocation(parsing: databaseURL), logger: logger)
            do {
                try await Migrator(database: database).up()
                let store = SQLStore(database: database)
                let tenant = Tenant(
                    id: UUID(), slug: "ledger-load-\(UUID().uuidString.prefix(8).lowercased())", name: "ledger load", createdAt: Date())
                try await store.write { try await $0.tenants.insert(tenant) }
                let memoryBefore = Self.residentMiB()

                // Append. As on the decision path, records and their ledger items (canonical body and
                // its digest) are built elsewhere (there: by the deciding requests; here: the next
                // batch, concurrently) while the one writer commits; checkpoints are signed as the
                // server's background pass would, every --checkpoint-every records.
                var started = ContinuousClock.now
                var written = 0
                var reported = started
                let (records, batch, tenantID) = (self.records, self.batch, tenant.id)
                @Sendable func make(from first: Int) -> ([DecisionRecord], [LedgerItem]) {
                    let count = min(batch, records - first)
                    let now = Timestamp.truncated(Date())
                    let chunk = (0..<count).map { index in
                        DecisionRecord(
                            id: UUID.v7(at: now), tenantID: tenantID, agentID: "bot", tool: "refund", action: "create",
                            input: #"{"order":\#(first + index),"amount":19.99}"#, effect: .allow, reasons: ["default_allow"], bundle: nil,
                            runID: nil, cost: 2.5, evaluatedNanoseconds: 1000, createdAt: now, traceID: nil)
                    }
                    return (chunk, chunk.map(LedgerItem.decision))
                }
                let signer = try LedgerSigner(keyID: "loadtest", privateKey: AgentTokenAuthority.generateKey())
                let ledgerService = LedgerService(store: store, signer: signer)
                var checkpoints = 0
                var next = make(from: 0)
                while written < records {
                    let (chunk, items) = next
                    let following = written + chunk.count
                    // The next batch is built while this one is written.
                    async let built = following < records ? make(from: following) : ([], [])
                    try await store.write { try await $0.decisions.insert(chunk, ledger: items) }
                    written += chunk.count
                    if written / checkpointEvery > checkpoints {
                        checkpoints += try await ledgerService.checkpointDue(records: Int64(checkpointEvery), interval: 3600)
                    }
                    if ContinuousClock.now - reported >= .seconds(2) {
                        reported = ContinuousClock.now
                        FileHandle.standardError.write(Data("… \(written) of \(records) appended\n".utf8))
                    }
                    next = await built
                }
                let appendSeconds = Self.seconds(ContinuousClock.now - started)
                print(
                    String(
                        format: "append: %d records (with ledger entries) in %.2f s = %.0f records/s, batches of %d, %d signed checkpoints",
                        records, appendSeconds, Double(records) / appendSeconds, batch, checkpoints))

                // Verify.
                started = ContinuousClock.now
                let head = try await store.read { try await $0.ledger.head(tenantID: tenant.id) }
                let result = try await ledgerService.verify(tenantID: tenant.id)
                let verifySeconds = Self.seconds(ContinuousClock.now - started)
                print(
                    String(
                        format: "verify: %d entries in %.2f s = %.0f entries/s, valid %@", result.entries, verifySeconds,
                        Double(result.entries) / verifySeconds, result.valid ? "yes" : "NO"))

                // Verify again, comparing every record's row with its entry.
                started = ContinuousClock.now
                let deep = try await ledgerService.verify(tenantID: tenant.id, records: true)
                let deepSeconds = Self.seconds(ContinuousClock.now - started)
                print(
                    String(
                        format: "verify --records: %d entries, %d rows compared in %.2f s = %.0f entries/s, valid %@", deep.entries,
                        deep.recordsCompared, deepSeconds, Double(deep.entries) / deepSeconds, deep.valid ? "yes" : "NO"))

                // One record's entry found without an index (what a provenance manifest does first).
                started = ContinuousClock.now
                let probes = 20
                var found = 0
                for probe in 0..<probes {
                    let sequence = Int64(1 + (records - 1) * probe / max(probes - 1, 1))
                    guard let entry = try await store.read({ try await $0.ledger.entry(tenantID: tenant.id, sequence: sequence) }) else { continue }
                    let located = try await store.read {
                        try await $0.ledger.locate(tenantID: tenant.id, kind: entry.kind, recordID: entry.recordID, near: entry.at)
                    }
                    if located?.sequence == sequence { found += 1 }
                }
                let locateSeconds = Self.seconds(ContinuousClock.now - started)
                print(
                    String(
                        format: "locate: %d of %d records found by id and time, %.1f ms each", found, probes, locateSeconds * 1000 / Double(probes)))

                // Export (strict), 1,000 entries at a time, as the server streams it.
                started = ContinuousClock.now
                let file = out.flatMap { path -> FileHandle? in
                    FileManager.default.createFile(atPath: path, contents: nil)
                    return FileHandle(forWritingAtPath: path)
                }
                var digest = LedgerExport.Digest()
                var after: Int64 = 0
                while true {
                    let entries = try await store.read { [after] in
                        try await $0.ledger.entries(tenantID: tenant.id, after: after, from: nil, to: nil, limit: 1000)
                    }
                    guard let last = entries.last else { break }
                    var chunk: [UInt8] = []
                    for entry in entries {
                        let (line, redacted) = LedgerExport.line(entry, level: .strict)
                        digest.add(line, entry: entry, redacted: redacted)
                        chunk += line
                        chunk.append(0x0a)
                    }
                    file?.write(Data(chunk))
                    after = last.sequence
                }
                try? file?.close()
                let exportSeconds = Self.seconds(ContinuousClock.now - started)
                print(
                    String(
                        format: "export: %d entries, %.1f MiB in %.2f s = %.0f entries/s, sha256 %@", digest.entries,
                        Double(digest.bytes) / 1_048_576, exportSeconds, Double(digest.entries) / exportSeconds, digest.hex))
                print(String(format: "resident memory: %.1f MiB before, %.1f MiB after", memoryBefore, Self.residentMiB()))
                await database.close()
            } catch {
                await database.close()
                throw CLIError("\(error)")
            }
        }

        static func seconds(_ duration: Duration) -> Double {
            Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        }

        /// VmRSS of this process, from /proc (Linux).
        static func residentMiB() -> Double {
            guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
                let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
                let kib = Double(line.split(separator: " ").dropFirst().first ?? "")
            else { return 0 }
            return kib / 1024
        }
    }
}
