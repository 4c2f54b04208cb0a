import Foundation

@testable import Rego

/// OPA's conformance cases, read from `../shared/conformance/opa` (or `WARDEN_CONFORMANCE_DIR`) at
/// test time; never copied into the project.
struct ConformanceCase: Sendable {
    var directory: String
    var file: String
    var note: String
    var query: String?
    var modules: [String]
    var data: Value?
    var input: Value?
    var wantResult: Value?
    var wantErrorCode: String?
    var wantError: String?
    var inputTerm: String?
    var strictError: Bool
    var sortBindings: Bool

    static var root: URL? {
        if let override = ProcessInfo.processInfo.environment["WARDEN_CONFORMANCE_DIR"] {
            return URL(fileURLWithPath: override)
        }
        let here = URL(fileURLWithPath: #filePath)
        let root = here.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("shared/conformance/opa")
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root.path, isDirectory: &isDirectory), isDirectory.boolValue else { return nil }
        return root
    }

    /// Every case, by directory. `nil` (with a printed note) when the data is absent.
    static func load() throws -> [String: [ConformanceCase]]? {
        guard let root else {
            print("note: OPA conformance data not found at ../shared/conformance/opa (set WARDEN_CONFORMANCE_DIR); conformance suites skipped")
            return nil
        }
        var result: [String: [ConformanceCase]] = [:]
        let directories = try FileManager.default.contentsOfDirectory(atPath: root.path).sorted()
        for directory in directories {
            let folder = root.appendingPathComponent(directory)
            guard let files = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else { continue }
            for file in files.sorted() where file.hasSuffix(".yaml") || file.hasSuffix(".yml") {
                let text = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
                // Read with Warden's own YAML reader: it keeps integers beyond 64 bits exact, where
                // libyaml through Yams loses them (YAMLTests checks the two agree on everything else).
                guard case .object(let document) = try Value.parseYAML(text), case .array(let cases)? = document[.string("cases")] else {
                    continue
                }
                for case .object(let item) in cases {
                    func string(_ key: String) -> String? {
                        if case .string(let text)? = item[.string(key)] { return text }
                        return nil
                    }
                    func flag(_ key: String) -> Bool { item[.string(key)] == .bool(true) }
                    var modules: [String] = []
                    if case .array(let sources)? = item[.string("modules")] {
                        for case .string(let source) in sources { modules.append(source) }
                    }
                    result[directory, default: []].append(
                        ConformanceCase(
                            directory: directory, file: file, note: string("note") ?? file, query: string("query"), modules: modules,
                            data: item[.string("data")], input: item[.string("input")], wantResult: item[.string("want_result")],
                            wantErrorCode: string("want_error_code"), wantError: string("want_error"), inputTerm: string("input_term"),
                            strictError: flag("strict_error"), sortBindings: flag("sort_bindings")
                        )
                    )
                }
            }
        }
        return result
    }
}
