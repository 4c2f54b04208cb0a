import Foundation
import Testing

@testable import Rego

/// Step one of conformance: every module and query of OPA's cases parses, except the cases that
/// expect a parse error, which must fail to parse.
@Suite struct ConformanceParseTests {
    @Test func everyConformanceModuleParses() async throws {
        try await onOwnThread { try Self.everyConformanceModuleParsesWork() }
    }

    static func everyConformanceModuleParsesWork() throws -> [String] {
        var problems: [String] = []
        guard let suites = try ConformanceCase.load() else { return [] }
        var parsed = 0
        var failed: [String] = []
        var expectedFailures = 0
        for (directory, cases) in suites.sorted(by: { $0.key < $1.key }) {
            for item in cases {
                let wantsParseError = item.wantErrorCode == "rego_parse_error"
                var error: RegoError?
                for (index, source) in item.modules.enumerated() {
                    do {
                        _ = try Parser.parseModule(source, file: "\(item.file)#\(index)")
                    } catch let caught {
                        error = caught
                        break
                    }
                }
                if error == nil, let query = item.query {
                    do {
                        _ = try Parser.parseQuery(query)
                    } catch let caught {
                        error = caught
                    }
                }
                switch (error, wantsParseError) {
                case (nil, false): parsed += 1
                case (.some, true): expectedFailures += 1
                case (.some(let error), false): failed.append("\(directory)/\(item.note): \(error)")
                case (nil, true): failed.append("\(directory)/\(item.note): expected a parse error, parsed fine")
                }
            }
        }
        print(
            "conformance parse: \(parsed) cases parsed, \(expectedFailures) expected parse errors raised, \(failed.count) failed"
        )
        for failure in failed.prefix(40) { print("  \(failure)") }
        if !failed.isEmpty { problems.append("\(failed.count) conformance cases do not parse as OPA parses them") }
        return problems
    }
}
