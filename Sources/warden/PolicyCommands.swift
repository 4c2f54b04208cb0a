import ArgumentParser
import Foundation
import Rego
import WardenCore

/// `warden policy eval|check`: the embedded Rego engine, no server needed, with `opa`'s flags and output.
struct PolicyCommands: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy", abstract: "Evaluate and check Rego policies locally (opa-compatible).",
        subcommands: [Eval.self, Check.self, Test.self, Format.self, Lint.self, Explain.self, System.self]
    )

    struct Eval: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Evaluate a query, as `opa eval` does.",
            discussion: "Exit status 0 (also when the result is undefined), 1 on errors. `--format json` prints opa eval's JSON shape."
        )
        @Option(name: [.customShort("d"), .customLong("data")], help: "A .rego, .json or .yaml file, or a folder of them (repeatable).")
        var data: [String] = []
        @Option(name: [.customShort("i"), .customLong("input")], help: "Input document (JSON or YAML file).") var input: String?
        @Option(name: [.customShort("b"), .customLong("bundle")], help: "A bundle folder (loaded like -d).") var bundle: [String] = []
        @Option(name: [.customShort("f"), .customLong("format")], help: "json or pretty.") var format: String = "json"
        @Flag(name: .customLong("strict-builtin-errors"), help: "Treat builtin errors as fatal.") var strictBuiltinErrors = false
        @Argument(help: "The query, such as data.sentinel.policy.allow.") var query: String

        func validate() throws {
            guard ["json", "pretty"].contains(format) else { throw ValidationError("--format must be json or pretty") }
        }

        func run() async throws {
            do {
                let loaded = try PolicyFiles.load(data + bundle)
                let policy = try Policy(modules: loaded.modules, data: loaded.data)
                let inputValue = try input.map { try PolicyFiles.document(at: $0) }
                let rows = try policy.prepare(query).evaluate(input: inputValue, strictBuiltinErrors: strictBuiltinErrors)
                print(PolicyFiles.render(rows, query: query, pretty: format == "pretty"))
            } catch let error as RegoError {
                print(PolicyFiles.render(error, pretty: format == "pretty"))
                throw ExitCode(1)
            }
        }
    }

    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the test rules (test_…) of policies, as `opa test` does.",
            discussion:
                "Prints failures (every test with -v) and a PASS/FAIL summary. Exit status 0 when every test passes, 2 when any fails or errors, 1 when the policies do not load or compile."
        )
        @Argument(help: "Files or folders of .rego and data files.") var paths: [String]
        @Flag(name: [.customShort("v"), .customLong("verbose")], help: "Print every test, not only failures.") var verbose = false
        @Option(name: [.customShort("r"), .customLong("run")], help: "Only tests whose path matches this regular expression.") var run: String?

        func run() async throws {
            let policy: Policy
            do {
                let loaded = try PolicyFiles.load(paths)
                policy = try Policy(modules: loaded.modules, data: loaded.data)
            } catch let error as RegoError {
                FileHandle.standardError.write(Data("\(error)\n".utf8))
                throw ExitCode(1)
            }
            var tests = policy.tests
            if let run {
                guard let pattern = try? NSRegularExpression(pattern: run) else { throw ValidationError("--run is not a valid regular expression") }
                tests = tests.filter { pattern.firstMatch(in: $0.path, range: NSRange($0.path.startIndex..., in: $0.path)) != nil }
            }
            guard !tests.isEmpty else {
                print("no tests found")
                throw ExitCode(tests.isEmpty && policy.tests.isEmpty ? 0 : 2)
            }
            var passed = 0
            var failed = 0
            var errors = 0
            var currentFile = ""
            for test in tests {
                let started = DispatchTime.now().uptimeNanoseconds
                var outcome = "PASS"
                var detail: String?
                do {
                    let rows = try policy.prepare(test.path).evaluate()
                    if let value = rows.first?["$value"], value != .bool(false) {
                        passed += 1
                    } else {
                        outcome = "FAIL"
                        failed += 1
                    }
                } catch {
                    outcome = "ERROR"
                    detail = "\(error)"
                    errors += 1
                }
                let elapsed = Double(DispatchTime.now().uptimeNanoseconds - started) / 1_000
                if verbose || outcome != "PASS" {
                    if verbose, test.file != currentFile {
                        if !currentFile.isEmpty { print("") }
                        print("\(test.file):")
                        currentFile = test.file
                    }
                    let duration = elapsed < 1_000 ? String(format: "%.3fµs", elapsed) : String(format: "%.3fms", elapsed / 1_000)
                    print("\(test.path): \(outcome) (\(duration))")
                    if let detail { print("  \(detail)") }
                }
            }
            print(String(repeating: "-", count: 80))
            let total = tests.count
            if passed > 0 { print("PASS: \(passed)/\(total)") }
            if failed > 0 { print("FAIL: \(failed)/\(total)") }
            if errors > 0 { print("ERROR: \(errors)/\(total)") }
            if failed + errors > 0 { throw ExitCode(2) }
        }
    }

    struct Format: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "fmt",
            abstract: "Format policies in Warden's one canonical layout, as `opa fmt` does.",
            discussion:
                "Without --write, prints the formatted text of one file, or with --list the files whose layout would change (exit 2 when any would). Formatting is idempotent: formatting formatted text changes nothing."
        )
        @Argument(help: ".rego files or folders.") var paths: [String]
        @Flag(name: [.customShort("w"), .customLong("write")], help: "Rewrite the files in place.") var write = false
        @Flag(name: [.customShort("l"), .customLong("list")], help: "List the files whose layout differs.") var list = false

        func run() async throws {
            var files: [String] = []
            for path in paths {
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                    FileHandle.standardError.write(Data("\(path): no such file or directory\n".utf8))
                    throw ExitCode(1)
                }
                if isDirectory.boolValue {
                    let found = FileManager.default.enumerator(atPath: path)?.allObjects as? [String] ?? []
                    files += found.filter { $0.hasSuffix(".rego") }.sorted().map { (path as NSString).appendingPathComponent($0) }
                } else {
                    files.append(path)
                }
            }
            guard write || list || files.count == 1 else {
                throw ValidationError("give one file to print, or --write / --list for several")
            }
            var changed = 0
            for file in files {
                let source: String
                let formatted: String
                do {
                    source = try String(contentsOfFile: file, encoding: .utf8)
                    formatted = try Formatter.format(source, file: file)
                } catch let error as RegoError {
                    FileHandle.standardError.write(Data("\(error)\n".utf8))
                    throw ExitCode(1)
                }
                if formatted != source { changed += 1 }
                if write {
                    if formatted != source { try formatted.write(toFile: file, atomically: true, encoding: .utf8) }
                } else if list {
                    if formatted != source { print(file) }
                } else {
                    print(formatted, terminator: "")
                }
            }
            if list, changed > 0 { throw ExitCode(2) }
        }
    }

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Parse and compile policies; print errors with file, line and column.")
        @Argument(help: "Files or folders.") var paths: [String]

        func run() async throws {
            do {
                let loaded = try PolicyFiles.load(paths)
                _ = try Policy(modules: loaded.modules, data: loaded.data)
                FileHandle.standardError.write(Data("\(loaded.modules.count) module(s) OK\n".utf8))
            } catch let error as RegoError {
                FileHandle.standardError.write(Data("\(error)\n".utf8))
                throw ExitCode(1)
            }
        }
    }
}

extension PolicyCommands {
    struct Lint: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check native rule lists: invalid rules, duplicate ids, unreachable (shadowed) rules, equal-priority conflicts.",
            discussion:
                "FILE is a JSON or YAML array of rules (or an object with a `rules` array). Exit status 0 when clean, 1 on findings or errors."
        )
        @Argument(help: "A .json or .yaml file of rules.") var file: String
        @Flag(help: "Print the Rego the rules compile to.") var showRego = false

        func run() async throws {
            let document: Value
            do {
                document = try PolicyFiles.document(at: file)
            } catch let error as RegoError {
                FileHandle.standardError.write(Data("\(error.message)\n".utf8))
                throw ExitCode(1)
            }
            var json = PolicyValue.json(document)
            if case .object(let fields) = json, let rules = fields["rules"] { json = rules }
            let rules: [NativeRule]
            do {
                rules = try NativeRules.parse(json)
            } catch {
                FileHandle.standardError.write(Data("\(file): \(error.message)\n".utf8))
                throw ExitCode(1)
            }
            if showRego { print(NativeRules.module(rules), terminator: "") }
            let findings = NativeRules.lint(rules)
            for finding in findings { print("\(file): \(finding.kind.rawValue): \(finding.message)") }
            FileHandle.standardError.write(Data("\(rules.count) rule(s), \(findings.count) finding(s)\n".utf8))
            if !findings.isEmpty { throw ExitCode(1) }
        }
    }
}

extension PolicyCommands {
    struct Explain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Why would this be allowed or denied? Evaluates on the server without side effects and prints the rules that decided.",
            discussion: "Uses the tenant's active bundle, or --bundle ID (a draft, say). Nothing is recorded."
        )
        @OptionGroup var client: ClientOptions
        @Argument(help: "Tenant slug.") var tenant: String
        @Option(help: "Agent id.") var agent: String
        @Option(help: "Tool name.") var tool: String
        @Option(help: "Action.") var action: String
        @Option(help: "The call's input as JSON.") var input: String = "{}"
        @Option(help: "Evaluate with this bundle instead of the active one.") var bundle: String?

        func run() async throws {
            guard let parsed = try? JSONSerialization.jsonObject(with: Data(input.utf8), options: [.fragmentsAllowed]) else {
                throw ValidationError("--input is not valid JSON")
            }
            var body: [String: Any] = ["agent": agent, "tool": tool, "action": action, "input": parsed]
            if let bundle { body["bundle_id"] = bundle }
            let answer = try await client.call("POST", "/v1/tenants/\(tenant)/evaluate", body: body)
            if client.output == .json {
                client.print(answer, columns: [])
                return
            }
            let object = answer as? [String: Any] ?? [:]
            let explanation = object["explanation"] as? [String: Any] ?? [:]
            let reasons = (object["reasons"] as? [String] ?? []).joined(separator: ", ")
            print("effect: \(object["effect"] as? String ?? "?")  reasons: \(reasons)")
            if let short = explanation["short_circuit"] as? String {
                print("decided before any policy ran: \(short)")
            } else if let bundle = explanation["bundle"] as? [String: Any] {
                let state = (bundle["active"] as? Bool == true) ? "active" : (bundle["status"] as? String ?? "?")
                print(
                    "bundle \(bundle["version"] as? String ?? "?") (\(state)), entrypoint \(explanation["entrypoint"] as? String ?? "?"): \(explanation["policy_result"] as? String ?? "?")"
                )
                if let error = explanation["policy_error"] as? String { print("policy error: \(error)") }
                for rule in explanation["rules"] as? [[String: Any]] ?? [] {
                    let value =
                        (try? JSONSerialization.data(withJSONObject: rule["value"] ?? NSNull(), options: [.fragmentsAllowed, .sortedKeys]))
                        .map { String(decoding: $0, as: UTF8.self) } ?? "?"
                    let marker = rule["default"] as? Bool == true ? " (default)" : ""
                    print("  \(rule["file"] as? String ?? "?"):\(rule["line"] as? Int ?? 0)  \(rule["rule"] as? String ?? "?")\(marker) = \(value)")
                }
            } else {
                print("no active bundle: the tenant's default effect answered")
            }
        }
    }
}

/// Loading files the way `opa eval -d` does, and printing `opa eval`'s output.
enum PolicyFiles {
    struct Loaded {
        var modules: [String: String] = [:]
        var data: Value = .object([:])
    }

    static func load(_ paths: [String]) throws -> Loaded {
        var loaded = Loaded()
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw RegoError(.compileError, "\(path): no such file or directory")
            }
            let files: [String]
            if isDirectory.boolValue {
                let enumerator = FileManager.default.enumerator(atPath: path)
                files = (enumerator?.allObjects as? [String] ?? []).sorted().map { (path as NSString).appendingPathComponent($0) }
            } else {
                files = [path]
            }
            for file in files {
                if file.hasSuffix(".rego") {
                    loaded.modules[file] = try String(contentsOfFile: file, encoding: .utf8)
                } else if file.hasSuffix(".json") || file.hasSuffix(".yaml") || file.hasSuffix(".yml") {
                    let document = try document(at: file)
                    guard case .object(let fields) = document, case .object(let existing) = loaded.data else {
                        throw RegoError(.compileError, "\(file): data files must hold an object")
                    }
                    loaded.data = .object(existing.merging(fields) { _, new in new })
                }
            }
        }
        return loaded
    }

    static func document(at path: String) throws -> Value {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw RegoError(.compileError, "\(path): cannot read file")
        }
        if path.hasSuffix(".yaml") || path.hasSuffix(".yml") {
            do {
                return try Value.parseYAML(text)
            } catch {
                throw RegoError(error.code, "\(path): \(error.message)")
            }
        }
        return try Value.parseJSON(text)
    }

    /// `{"result":[{"expressions":[{"value":…,"text":…,"location":…}],"bindings":{…}}]}`; `{}` when undefined.
    /// Pretty: the value as indented JSON for a single-term query, a table of the bindings otherwise,
    /// `undefined` when there is no result (as `opa eval --format pretty` prints them).
    static func render(_ rows: [[String: Value]], query: String, pretty: Bool) -> String {
        if pretty { return renderPretty(rows) }
        guard !rows.isEmpty else { return "{}" }
        var results: [Value] = []
        for row in rows {
            var result: [Value: Value] = [
                .string("expressions"): .array([
                    .object([
                        .string("value"): row["$value"] ?? .bool(true), .string("text"): .string(query),
                        .string("location"): .object([.string("row"): .int(1), .string("col"): .int(1)]),
                    ])
                ])
            ]
            let bindings = row.filter { $0.key != "$value" }
            if !bindings.isEmpty {
                result[.string("bindings")] = .object(Dictionary(uniqueKeysWithValues: bindings.map { (Value.string($0.key), $0.value) }))
            }
            results.append(.object(result))
        }
        let document = Value.object([.string("result"): .array(results)])
        return prettyJSON(document)
    }

    static func renderPretty(_ rows: [[String: Value]]) -> String {
        guard !rows.isEmpty else { return "undefined" }
        let names = Set(rows.flatMap { $0.keys }).subtracting(["$value"]).sorted()
        if names.isEmpty {
            return rows.map { ($0["$value"] ?? .bool(true)).prettyJSON() }.joined(separator: "\n")
        }
        let cells = rows.map { row in names.map { row[$0].map { $0.jsonText } ?? "" } }
        let widths = names.indices.map { column in max(names[column].count, cells.map { $0[column].count }.max() ?? 0) }
        let rule = "+" + widths.map { String(repeating: "-", count: $0 + 2) }.joined(separator: "+") + "+"
        func line(_ values: [String], center: Bool) -> String {
            "|"
                + zip(values, widths).map { value, width in
                    let space = width - value.count
                    let left = center ? space / 2 : 0
                    return " " + String(repeating: " ", count: left) + value + String(repeating: " ", count: space - left) + " "
                }.joined(separator: "|") + "|"
        }
        var out = [rule, line(names, center: true), rule]
        out += cells.map { line($0, center: false) }
        out.append(rule)
        return out.joined(separator: "\n")
    }

    static func render(_ error: RegoError, pretty: Bool) -> String {
        if pretty {
            var text = "1 error occurred: "
            if let location = error.location { text += "\(location.file):\(location.line): " }
            return text + "\(error.code.name): \(error.message)"
        }
        var fields: [Value: Value] = [.string("code"): .string(error.code.name), .string("message"): .string(error.message)]
        if let location = error.location {
            fields[.string("location")] = .object([
                .string("file"): .string(location.file), .string("row"): .int(location.line), .string("col"): .int(location.column),
            ])
        }
        return prettyJSON(.object([.string("errors"): .array([.object(fields)])]))
    }

    /// Two-space indented JSON with sorted keys, as `opa eval` prints it.
    static func prettyJSON(_ value: Value) -> String {
        value.prettyJSON()
    }
}

extension PolicyCommands {
    /// `warden policy system disable|enable|status`: the emergency bypass of policy evaluation.
    struct System: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The emergency bypass: turn policy evaluation off for every tenant, and on again (global admin).",
            subcommands: [Disable.self, Enable.self, Status.self]
        )

        static let columns = ["policy_evaluation", "since", "by", "reason"]

        struct Disable: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract:
                    "Skip policy evaluation everywhere (decisions allow with reason policy_bypassed; kill switch still applies). Sends X-Emergency-Override: true."
            )
            @OptionGroup var client: ClientOptions
            @Option(help: "Why (required); a critical audit event.") var reason: String

            func run() async throws {
                let answer = try await client.call(
                    "POST", "/v1/policy/system/disable", body: ["enabled": false, "reason": reason], headers: [("X-Emergency-Override", "true")])
                client.print(answer, columns: System.columns)
            }
        }

        struct Enable: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "End the bypass: policies decide again.")
            @OptionGroup var client: ClientOptions
            @Option(help: "Why; a critical audit event.") var reason: String?

            func run() async throws {
                try await client.post("/v1/policy/system/enable", "reason", reason, columns: System.columns)
            }
        }

        struct Status: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Whether policy evaluation is on.")
            @OptionGroup var client: ClientOptions

            func run() async throws {
                client.print(try await client.call("GET", "/v1/policy/system"), columns: System.columns)
            }
        }
    }
}
