import ArgumentParser
import Foundation
import Rego
import Yams

/// `warden policy eval|check`: the embedded Rego engine, no server needed, with `opa`'s flags and output.
struct PolicyCommands: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy", abstract: "Evaluate and check Rego policies locally (opa-compatible).", subcommands: [Eval.self, Check.self]
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
                return value(try Yams.load(yaml: text))
            } catch {
                throw RegoError(.parseError, "\(path): invalid YAML")
            }
        }
        return try Value.parseJSON(text)
    }

    static func value(_ any: Any?) -> Value {
        Value(foundation: any)
    }

    /// `{"result":[{"expressions":[{"value":…,"text":…,"location":…}],"bindings":{…}}]}`; `{}` when undefined.
    static func render(_ rows: [[String: Value]], query: String, pretty: Bool) -> String {
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

    static func render(_ error: RegoError, pretty: Bool) -> String {
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
