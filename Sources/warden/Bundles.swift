import ArgumentParser
import Foundation
import Rego

/// `warden bundles create|list|show|approve|promote|rollback|canary-status|activate`: policy bundles on a server.
struct Bundles: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bundles", abstract: "Create, approve, roll out and roll back policy bundles.",
        subcommands: [
            Create.self, List.self, Show.self, Approve.self, Promote.self, Rollback.self, CanaryStatus.self, Simulate.self, Activate.self,
            Export.self, Import.self,
        ]
    )

    static let columns = ["id", "version", "status", "share", "entrypoint", "default_effect", "stage_since", "module_names"]

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Create a draft bundle from .rego modules and .json/.yaml data (admin, author). Compiled on the server: a mistake prints file:line:column."
        )
        @OptionGroup var client: ClientOptions
        @Argument(help: "Tenant slug.") var tenant: String
        @Argument(help: "Semantic version, such as 1.4.0.") var version: String
        @Option(name: [.customShort("d"), .customLong("data")], help: "A .rego, .json or .yaml file, or a folder of them (repeatable).")
        var paths: [String] = []
        @Option(help: "A .json or .yaml file of native rules (see warden policy lint).") var rules: String?
        @Option(help: "The rule whose value is the decision (default data.warden.decision; data.warden.rules.decision for rules alone).")
        var entrypoint: String?
        @Option(help: "allow or deny when the entry point is undefined.") var defaultEffect: String = "deny"
        @Option(help: "Notes kept with the bundle.") var notes: String?

        func run() async throws {
            guard !paths.isEmpty || rules != nil else { throw CLIError("give the policy with -d FILE_OR_DIR (repeatable) or --rules FILE") }
            var modules: [String: String] = [:]
            var data: [String: Any] = [:]
            for path in paths {
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                    throw CLIError("\(path): no such file or directory")
                }
                let files: [(name: String, path: String)]
                if isDirectory.boolValue {
                    let found = (FileManager.default.enumerator(atPath: path)?.allObjects as? [String] ?? []).sorted()
                    files = found.map { ($0, (path as NSString).appendingPathComponent($0)) }
                } else {
                    files = [((path as NSString).lastPathComponent, path)]
                }
                for file in files {
                    if file.path.hasSuffix(".rego") {
                        modules[file.name] = try String(contentsOfFile: file.path, encoding: .utf8)
                    } else if file.path.hasSuffix(".json") || file.path.hasSuffix(".yaml") || file.path.hasSuffix(".yml") {
                        let document = try PolicyFiles.document(at: file.path)
                        guard case .object = document,
                            let object = try JSONSerialization.jsonObject(with: Data(document.jsonText.utf8)) as? [String: Any]
                        else { throw CLIError("\(file.path): data files must hold an object") }
                        data.merge(object) { _, new in new }
                    }
                }
            }
            var ruleList: [Any] = []
            if let rules {
                let document = try PolicyFiles.document(at: rules)
                let parsed = try JSONSerialization.jsonObject(with: Data(document.jsonText.utf8))
                if let list = parsed as? [Any] {
                    ruleList = list
                } else if let list = (parsed as? [String: Any])?["rules"] as? [Any] {
                    ruleList = list
                } else {
                    throw CLIError("\(rules): expected an array of rules (or an object with a rules array)")
                }
            }
            guard !modules.isEmpty || !ruleList.isEmpty else { throw CLIError("no .rego modules found in \(paths.joined(separator: ", "))") }
            var body: [String: Any] = ["version": version, "modules": modules, "data": data, "default_effect": defaultEffect]
            if !ruleList.isEmpty { body["rules"] = ruleList }
            if let entrypoint { body["entrypoint"] = entrypoint }
            if let notes { body["notes"] = notes }
            client.print(try await client.call("POST", "/v1/tenants/\(tenant)/bundles", body: body), columns: Bundles.columns)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a tenant's bundles, newest first.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "Tenant slug.") var tenant: String
        @Option(help: "Only this version.") var version: String?
        @Flag(help: "Only the active bundle.") var activeOnly = false
        @OptionGroup var paging: Paging

        func run() async throws {
            var query = paging.query
            if let version { query.append(("version", version)) }
            if activeOnly { query.append(("active_only", "true")) }
            client.print(try await client.call("GET", "/v1/tenants/\(tenant)/bundles", query: query), columns: Bundles.columns)
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one bundle (use --output json for its modules and data).")
        @OptionGroup var client: ClientOptions
        @Argument(help: "Tenant slug.") var tenant: String
        @Argument(help: "Bundle id.") var id: String

        func run() async throws {
            client.print(try await client.call("GET", "/v1/tenants/\(tenant)/bundles/\(id)"), columns: Bundles.columns + ["notes", "created_by"])
        }
    }

    struct Activate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Make an approved bundle active at once, skipping the canary (admin, operator): a forced promotion. The previous one is archived.")
        @OptionGroup var client: ClientOptions
        @OptionGroup var step: Step

        func run() async throws { try await step.post("activate", client) }
    }

    /// A lifecycle step on one bundle with an optional reason (approve, activate).
    struct Step: ParsableArguments {
        @Argument(help: "Tenant slug.") var tenant: String
        @Argument(help: "Bundle id.") var id: String
        @Option(help: "Why; recorded in the audit trail.") var reason: String?

        func post(_ action: String, _ client: ClientOptions) async throws {
            try await client.post("/v1/tenants/\(tenant)/bundles/\(id)/\(action)", "reason", reason, columns: Bundles.columns)
        }
    }

    struct Approve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Approve a draft (approver, admin); its author cannot approve it.")
        @OptionGroup var client: ClientOptions
        @OptionGroup var step: Step

        func run() async throws { try await step.post("approve", client) }
    }

    struct Promote: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Move a bundle forward: approved -> canary_10 -> canary_50 -> active (admin, operator). Leaving a canary needs its minimum time and passing gates, unless --force with --reason."
        )
        @OptionGroup var client: ClientOptions
        @Argument(help: "Tenant slug.") var tenant: String
        @Argument(help: "Bundle id.") var id: String
        @Option(help: "canary_10, canary_50 or active.") var to: String
        @Option(help: "Why; recorded with the transition (required with --force).") var reason: String?
        @Flag(help: "Skip stages, the minimum time and the gates.") var force = false

        func run() async throws {
            var body: [String: Any] = ["to": to, "force": force]
            if let reason { body["reason"] = reason }
            client.print(try await client.call("POST", "/v1/tenants/\(tenant)/bundles/\(id)/promote", body: body), columns: Bundles.columns)
        }
    }

    struct Rollback: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "End a canary or active bundle at once (admin, operator); a rolled-back active bundle hands back to the one it replaced.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "Tenant slug.") var tenant: String
        @Argument(help: "Bundle id.") var id: String
        @Option(help: "Why (required); recorded with the transition and in the audit trail.") var reason: String
        @Option(help: "The person acting, recorded next to the key.") var rolledBackBy: String?

        func run() async throws {
            var body: [String: Any] = ["reason": reason]
            if let rolledBackBy { body["rolled_back_by"] = rolledBackBy }
            let answer = try await client.call("POST", "/v1/tenants/\(tenant)/bundles/\(id)/rollback", body: body)
            guard client.output == .table, let object = answer as? [String: Any] else { return client.print(answer, columns: []) }
            if let bundle = object["bundle"] as? [String: Any] {
                Swift.print("rolled back \(bundle["version"] ?? "?") (now \(bundle["status"] ?? "?"))")
            }
            if let restored = object["restored"] as? [String: Any] {
                Swift.print("restored \(restored["version"] ?? "?"): active again, deciding every request")
            } else {
                Swift.print("no bundle restored")
            }
            for warning in object["warnings"] as? [String] ?? [] { Swift.print("warning: \(warning)") }
        }
    }

    struct CanaryStatus: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "canary-status", abstract: "A canary's stage, share, samples and quality gates (each threshold, value, pass/fail).")
        @OptionGroup var client: ClientOptions
        @Argument(help: "Tenant slug.") var tenant: String
        @Argument(help: "Bundle id.") var id: String
        @Flag(help: "Evaluate the gates now and record the result in warden_bundle_canary_gate_passed (POST …/check-gates).") var check = false

        func run() async throws {
            let answer =
                check
                ? try await client.call("POST", "/v1/tenants/\(tenant)/bundles/\(id)/check-gates")
                : try await client.call("GET", "/v1/tenants/\(tenant)/bundles/\(id)/canary-status")
            guard client.output == .table, let object = answer as? [String: Any] else { return client.print(answer, columns: []) }
            Swift.print(
                "\(object["version"] ?? "?") \(object["stage"] ?? "?") (\(object["share"] ?? "?") %), \(object["seconds_in_stage"] ?? "?") s in stage of \(object["minimum_stage_seconds"] ?? "?") s minimum, \(object["samples"] ?? 0) samples; gates \((object["passed"] as? Bool) == true ? "pass" : "FAIL"), promotable: \(object["promotable"] ?? false)"
            )
            client.print(["items": object["gates"] ?? []], columns: ["name", "threshold", "value", "passed"])
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a bundle with its signature (valid 24 h) to a file, for another tenant or environment.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "Tenant slug.") var tenant: String
        @Argument(help: "Bundle id.") var id: String
        @Option(name: [.customShort("o"), .customLong("file")], help: "Where to write it (default: standard output).") var file: String?

        func run() async throws {
            let answer = try await client.call("GET", "/v1/tenants/\(tenant)/bundles/\(id)/export")
            let data = try JSONSerialization.data(withJSONObject: answer, options: [.sortedKeys, .withoutEscapingSlashes])
            if let file {
                try data.write(to: URL(fileURLWithPath: file))
                Swift.print("wrote \(file)")
            } else {
                Swift.print(String(decoding: data, as: UTF8.self))
            }
        }
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a draft from a signed export (admin, author); refused if altered, expired, or its version exists.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "Tenant slug.") var tenant: String
        @Argument(help: "The file `warden bundles export` wrote.") var file: String
        @Option(help: "Import under this version instead (when the export's version exists here).") var asVersion: String?

        func run() async throws {
            let data = try Data(contentsOf: URL(fileURLWithPath: file))
            guard var body = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw CLIError("\(file): not a JSON object")
            }
            if let asVersion { body["import_as_version"] = asVersion }
            client.print(try await client.call("POST", "/v1/tenants/\(tenant)/bundles/import", body: body), columns: Bundles.columns)
        }
    }

    struct Simulate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replay recorded decisions of a window with a bundle (a draft, usually): how many would change, by effect, with examples.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "Tenant slug.") var tenant: String
        @Argument(help: "Bundle id.") var id: String
        @Option(help: "From this RFC 3339 time.") var from: String?
        @Option(help: "Until this RFC 3339 time.") var to: String?
        @Option(help: "At most this many recorded decisions, newest first (1 to 10000).") var limit: Int = 1000

        func run() async throws {
            var body: [String: Any] = ["limit": limit]
            if let from { body["from"] = from }
            if let to { body["to"] = to }
            let answer = try await client.call("POST", "/v1/tenants/\(tenant)/bundles/\(id)/simulate", body: body)
            guard client.output == .table, let report = answer as? [String: Any] else { return client.print(answer, columns: []) }
            Swift.print(
                "\(report["version"] ?? "?"): \(report["considered"] ?? 0) recorded decisions read, \(report["evaluated"] ?? 0) replayed, \(report["changed"] ?? 0) would change"
            )
            for (change, count) in (report["changes"] as? [String: Any] ?? [:]).sorted(by: { $0.key < $1.key }) {
                Swift.print("  \(change.replacingOccurrences(of: "->", with: " -> ")): \(count)")
            }
            for (why, count) in (report["skipped"] as? [String: Any] ?? [:]).sorted(by: { $0.key < $1.key }) {
                Swift.print("  skipped (\(why)): \(count)")
            }
            let examples = (report["examples"] as? [[String: Any]] ?? []).map { example -> [String: Any] in
                let recorded = example["recorded"] as? [String: Any] ?? [:]
                let simulated = example["simulated"] as? [String: Any] ?? [:]
                return [
                    "decision_id": example["decision_id"] ?? "", "agent": example["agent"] ?? "", "tool": example["tool"] ?? "",
                    "was": recorded["effect"] ?? "", "would_be": simulated["effect"] ?? "",
                    "because": (simulated["reasons"] as? [String] ?? []).joined(separator: ", "),
                ]
            }
            if !examples.isEmpty { client.print(["items": examples], columns: ["decision_id", "agent", "tool", "was", "would_be", "because"]) }
        }
    }
}
