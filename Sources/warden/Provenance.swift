import ArgumentParser
import Foundation
import WardenCore

/// `warden provenance show|verify`: signed manifests of decisions and tool calls.
struct ProvenanceCommands: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "provenance", abstract: "Signed provenance manifests (in-toto in DSSE) of decisions and tool calls, and their check.",
        subcommands: [Show.self, Verify.self])

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The manifest of a decision or tool call (admin, auditor), as issued the first time.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "Decision id or tool-call step id.") var id: String
        @Option(help: "Write the envelope to this file instead of printing it.") var out: String?

        func run() async throws {
            let text = try await client.text("GET", "/v1/provenance/\(id)")
            if let out {
                guard FileManager.default.createFile(atPath: out, contents: Data(text.utf8)) else { throw CLIError("cannot write \(out)") }
                Swift.print("wrote \(out)")
            } else {
                Swift.print(text)
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Check a manifest: by id through the server (record, ledger entry, chain to its checkpoint), or a saved --file, offline with --keys; exit 1 when invalid."
        )
        @OptionGroup var client: ClientOptions
        @Argument(help: "Decision id or tool-call step id (not with --file).") var id: String?
        @Option(help: "A manifest saved by warden provenance show --out.") var file: String?
        @Option(help: "With --file: check offline against these public keys (the answer of GET /v1/keys).") var keys: String?

        func run() async throws {
            var result: [String: Any]
            if let file {
                guard let data = FileManager.default.contents(atPath: file), let document = JSONValue.parse(String(decoding: data, as: UTF8.self))
                else { throw CLIError("cannot read a JSON manifest from \(file)") }
                let envelope = try ProvenanceEnvelope.parse(document)
                if let keys {
                    let checked = Provenance.verify(envelope, keys: try Self.publicKeys(keys))
                    result = [
                        "valid": checked.valid, "key_id": checked.keyID, "signed_at": checked.signedAt.map(Timestamp.format) as Any,
                        "reason": checked.reason, "record_id": checked.recordID as Any, "kind": checked.subject?.rawValue as Any,
                        "ledger_sequence": checked.sequence as Any, "checked_store": false,
                    ]
                } else {
                    let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
                    result = try await client.call("POST", "/v1/provenance/verify", body: object) as? [String: Any] ?? [:]
                }
            } else {
                guard let id else { throw CLIError("give a decision or tool-call id, or --file") }
                result = try await client.call("GET", "/v1/provenance/\(id)/verify") as? [String: Any] ?? [:]
            }
            if client.output == .json {
                client.print(result, columns: [])
            } else {
                Swift.print(
                    "\(result["valid"] as? Bool == true ? "valid" : "INVALID"): \(result["reason"] ?? "")\n"
                        + "key \(result["key_id"] ?? "?"), signed \(result["signed_at"] ?? "?"), \(result["kind"] ?? "record") \(result["record_id"] ?? "?"), "
                        + "ledger entry \(result["ledger_sequence"] ?? "?")")
            }
            if result["valid"] as? Bool != true { throw ExitCode.failure }
        }

        /// The keys of a file holding the answer of `GET /v1/keys`.
        static func publicKeys(_ path: String) throws -> [String: [UInt8]] {
            guard let data = FileManager.default.contents(atPath: path),
                let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let items = object["items"] as? [[String: Any]]
            else { throw CLIError("cannot read the keys in \(path): expected the answer of GET /v1/keys") }
            var keys: [String: [UInt8]] = [:]
            for item in items {
                if let id = item["key_id"] as? String, let text = item["public_key"] as? String, let key = Data(base64Encoded: text) {
                    keys[id] = Array(key)
                }
            }
            return keys
        }
    }
}
