import Foundation
import Testing

@testable import Rego

/// `policy fmt`: one layout, idempotent, and the formatted module means the same as the original.
@Suite struct FormatterTests {
    static let sample = """
        # Agent policy.
        package   sentinel.policy
        import rego.v1
        import data.lib.roles as r   # aliased
        default allow:=false
        # the main rule
        allow if { input.tool.risk!="critical"
          some role in input.agent.roles   # each role
          role in data.allowed[input.tool.name] }
        deny contains msg if {
            not allow
            msg := sprintf("%s: %d", [input.agent.id, (1+2)*3])
        }
        double(x) := y if y := x*2
        p := 1 if input.a else := 2 if input.b else := 3
        s := {x | some x in [1, 2]; x > 1}
        ok if every k, v in {"a": 1} { k != ""; v > 0 }
        """

    @Test func formatsOneCanonicalLayout() throws {
        let formatted = try Formatter.format(Self.sample)
        #expect(
            formatted == """
                # Agent policy.
                package sentinel.policy

                import rego.v1
                import data.lib.roles as r # aliased

                default allow := false

                # the main rule
                allow if {
                \tinput.tool.risk != "critical"
                \tsome role in input.agent.roles # each role
                \trole in data.allowed[input.tool.name]
                }

                deny contains msg if {
                \tnot allow
                \tmsg := sprintf("%s: %d", [input.agent.id, (1 + 2) * 3])
                }

                double(x) := y if y := x * 2

                p := 1 if input.a
                else := 2 if input.b
                else := 3

                s := {x | some x in [1, 2]; x > 1}

                ok if {
                \tevery k, v in {"a": 1} {
                \t\tk != ""
                \t\tv > 0
                \t}
                }

                """
        )
        #expect(try Formatter.format(formatted) == formatted)
    }

    /// Every module of OPA's conformance cases: formatting twice changes nothing more, and every
    /// case that passes with the original modules passes with the formatted ones.
    @Test func conformanceModulesFormatStably() async throws {
        try await onOwnThread { try Self.conformanceModulesFormatStablyWork() }
    }

    static func conformanceModulesFormatStablyWork() throws -> [String] {
        var problems: [String] = []
        guard let suites = try ConformanceCase.load() else { return [] }
        var formattedCount = 0
        var compared = 0
        var failures: [String] = []
        for (_, cases) in suites {
            for item in cases {
                var formatted = item
                var ok = true
                for (index, source) in item.modules.enumerated() {
                    guard (try? Parser.parseModule(source, file: "m.rego")) != nil else {
                        ok = false
                        continue
                    }
                    do {
                        let once = try Formatter.format(source, file: "m.rego")
                        let twice = try Formatter.format(once, file: "m.rego")
                        formattedCount += 1
                        formatted.modules[index] = once
                        if twice != once {
                            failures.append("\(item.note) module \(index): not idempotent\n--- once\n\(once)--- twice\n\(twice)")
                            ok = false
                        }
                    } catch {
                        failures.append("\(item.note) module \(index): \(error)\n--- source\n\(source)")
                        ok = false
                    }
                }
                guard ok, case .passed = ConformanceEvalTests.run(item) else { continue }
                compared += 1
                if case .failed(let why) = ConformanceEvalTests.run(formatted) {
                    failures.append(
                        "\(item.note): passes before formatting, fails after: \(why)\n--- formatted\n\(formatted.modules.joined(separator: "\n---\n"))"
                    )
                }
            }
        }
        print(
            "fmt: \(formattedCount) conformance modules formatted; \(compared) passing cases rerun on the formatted modules; \(failures.count) problems"
        )
        for failure in failures.prefix(3) { print(failure) }
        if !failures.isEmpty { problems.append("\(failures.count) formatting problems, printed above") }
        return problems
    }
}
