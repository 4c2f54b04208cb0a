import Foundation
import Yams

/// OPA's conformance cases, read from `../shared/conformance/opa` (or `WARDEN_CONFORMANCE_DIR`) at
/// test time; never copied into the project.
struct ConformanceCase: @unchecked Sendable {
    // @unchecked: the YAML values are immutable Foundation containers, only read after loading.
    var directory: String
    var file: String
    var note: String
    var query: String?
    var modules: [String]
    var data: Any?
    var input: Any?
    var wantResult: Any?
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
                guard let document = try Yams.load(yaml: text) as? [String: Any], let cases = document["cases"] as? [[String: Any]] else {
                    continue
                }
                for item in cases {
                    result[directory, default: []].append(
                        ConformanceCase(
                            directory: directory, file: file, note: item["note"] as? String ?? file, query: item["query"] as? String,
                            modules: item["modules"] as? [String] ?? [], data: item["data"], input: item["input"],
                            wantResult: item["want_result"], wantErrorCode: item["want_error_code"] as? String,
                            wantError: item["want_error"] as? String, inputTerm: item["input_term"] as? String,
                            strictError: item["strict_error"] as? Bool ?? false, sortBindings: item["sort_bindings"] as? Bool ?? false
                        )
                    )
                }
            }
        }
        return result
    }
}
