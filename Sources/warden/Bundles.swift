import ArgumentParser
import Foundation
import Rego

/// `warden bundles create|list|show|activate`: policy bundles on a server.
struct Bundles: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bundles", abstract: "Create, list, show and activate policy bundles.",
        subcommands: [Create.self, List.self, Show.self, Activate.self]
    )

    static let columns = ["id", "version", "status", "entrypoint", "default_effect", "activated_at", "module_names"]

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
            abstract: "Make a draft the deciding bundle (admin, operator); the previous one is archived. In force for the next decision.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "Tenant slug.") var tenant: String
        @Argument(help: "Bundle id.") var id: String
        @Option(help: "Why; recorded in the audit trail.") var reason: String?

        func run() async throws {
            var body: [String: Any] = [:]
            if let reason { body["reason"] = reason }
            client.print(try await client.call("POST", "/v1/tenants/\(tenant)/bundles/\(id)/activate", body: body), columns: Bundles.columns)
        }
    }
}
