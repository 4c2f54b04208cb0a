import Foundation
import Testing

@testable import Rego

/// `# METADATA` blocks and `rego.metadata.rule()` / `rego.metadata.chain()` (compared with OPA on probes).
@Suite struct AnnotationTests {
    static let modules = [
        "a.rego": """
        # METADATA
        # scope: subpackages
        # organizations:
        # - Acme
        package a
        """,
        "b.rego": """
        # METADATA
        # description: Agent tool rules
        package a.tools

        # METADATA
        # title: Refunds need a ticket
        # authors:
        # - Platform Security <sec@example.com>
        # custom:
        #   severity: high
        deny contains msg if {
            input.tool == "refund"
            msg := rego.metadata.rule().custom.severity
        }

        chain := rego.metadata.chain()

        # METADATA
        # entrypoint: true
        entry := rego.metadata.rule()
        """,
    ]

    func value(_ query: String, _ input: String = "{}") throws -> Value? {
        try Policy(modules: Self.modules).prepare(query).evaluate(input: Value.parseJSON(input)).first?["$value"]
    }

    @Test func aRuleReadsItsOwnBlock() throws {
        #expect(try value("data.a.tools.deny", #"{"tool": "refund"}"#) == .set([.string("high")]))
        // An entry point without a scope documents the rule set, so `rule()` has nothing of scope rule.
        #expect(try value("data.a.tools.entry") == .object([:]))
    }

    @Test func theChainRunsFromTheRuleToTheOutermostPackage() throws {
        let expected = try Value.parseJSON(
            #"""
            [{"path": ["a", "tools", "chain"]},
             {"path": ["a", "tools"], "annotations": {"scope": "package", "description": "Agent tool rules"}},
             {"path": ["a"], "annotations": {"scope": "subpackages", "organizations": ["Acme"]}}]
            """#)
        #expect(try value("data.a.tools.chain") == expected)
    }

    @Test func authorsAreSplitAsOPADoes() throws {
        #expect(
            Annotations.author("Platform Security <sec@example.com>")
                == .object([.string("name"): .string("Platform Security"), .string("email"): .string("sec@example.com")]))
        #expect(Annotations.author("Jane") == .object([.string("name"): .string("Jane")]))
    }

    @Test func aBadBlockIsAParseErrorWithItsLine() throws {
        let source = "package p\n\n# METADATA\n# scope: everywhere\np := 1\n"
        #expect(throws: RegoError.self) { try Policy(modules: ["p.rego": source]) }
        do {
            _ = try Policy(modules: ["p.rego": source])
        } catch {
            #expect(error.location?.line == 3)
            #expect(error.message.contains("scope"))
        }
    }
}
