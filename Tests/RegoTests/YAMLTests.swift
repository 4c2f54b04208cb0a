import Foundation
import Testing
import Yams

@testable import Rego

/// The engine's own YAML reader and writer (`yaml.*` builtins, `-d file.yaml`).
@Suite struct YAMLTests {
    func yaml(_ text: String) throws -> Value { try Value.parseYAML(text) }
    func json(_ text: String) throws -> Value { try Value.parseJSON(text) }

    @Test func blockCollectionsAndScalars() throws {
        let text = """
            # a comment
            name: warden   # trailing comment
            count: 3
            ratio: 0.25
            enabled: yes
            disabled: off
            nothing: ~
            hex: 0x1F
            octal: 010
            quoted: "a \\"b\\"\\n\\u00e9"
            single: 'it''s'
            tools:
            - read
            - name: write
              risk: high
            nested:
              deeper:
                - - 1
                  - 2
                - []
                - {}
            "key with: colon": 1
            1: numeric key
            """
        #expect(
            try yaml(text)
                == json(
                    """
                    {"name": "warden", "count": 3, "ratio": 0.25, "enabled": true, "disabled": false, "nothing": null,
                     "hex": 31, "octal": 8, "quoted": "a \\"b\\"\\n\\u00e9", "single": "it's",
                     "tools": ["read", {"name": "write", "risk": "high"}],
                     "nested": {"deeper": [[1, 2], [], {}]}, "key with: colon": 1, "1": "numeric key"}
                    """))
    }

    @Test func flowCollectionsSpanLines() throws {
        #expect(try yaml(#"{"json": "ok", "list": [1, 2.5, "x"]}"#) == json(#"{"json": "ok", "list": [1, 2.5, "x"]}"#))
        #expect(try yaml("a: [1,\n  2, {b: c,\n  d: [e]}]\nf: g") == json(#"{"a": [1, 2, {"b": "c", "d": ["e"]}], "f": "g"}"#))
        #expect(try yaml("- [a: 1]") == json(#"[[{"a": 1}]]"#))
    }

    @Test func blockScalars() throws {
        #expect(try yaml("a: |\n  one\n  two\n\nb: 1") == json(#"{"a": "one\ntwo\n", "b": 1}"#))
        #expect(try yaml("a: |-\n  one\n   two\n") == json(#"{"a": "one\n two"}"#))
        #expect(try yaml("a: |+\n  one\n\n\nb: 1") == json(#"{"a": "one\n\n\n", "b": 1}"#))
        #expect(try yaml("a: >\n  one\n  two\n\n  three\n") == json(#"{"a": "one two\nthree\n"}"#))
        #expect(try yaml("- >-\n  folded\n  text\n- x") == json(#"["folded text", "x"]"#))
        #expect(try yaml("a: |2\n    indented\n") == json(#"{"a": "  indented\n"}"#))
        #expect(try yaml("plain: multi\n  line\n  text") == json(#"{"plain": "multi line text"}"#))
    }

    @Test func anchorsAliasesAndMerge() throws {
        let text = """
            base: &base
              risk: low
              owner: ops
            tool:
              <<: *base
              risk: high
            copy: *base
            """
        #expect(
            try yaml(text)
                == json(
                    #"{"base": {"risk": "low", "owner": "ops"}, "tool": {"risk": "high", "owner": "ops"}, "copy": {"risk": "low", "owner": "ops"}}"#))
        #expect(try yaml("a: !!str 123\nb: !!int \"7\"") == json(#"{"a": "123", "b": 7}"#))
    }

    @Test func documentsAndEmptyInput() throws {
        #expect(try yaml("") == .null)
        #expect(try yaml("--- \na: 1\n...\n") == json(#"{"a": 1}"#))
        #expect(try yaml("--- 5") == .int(5))
        #expect(try yaml("a: 1\na: 2\nb: {c: 1, c: 3}") == json(#"{"a": 2, "b": {"c": 3}}"#))  // the last of a repeated key, as OPA
        #expect(try yaml("a: 1\n---\nb: 2") == json(#"{"a": 1}"#))  // the first document, as yaml.v2's Unmarshal
    }

    @Test func invalidDocumentsAreErrors() throws {
        for text in [
            "foo:\n  - qux: bar\n  - baz: {", "a: 1\n  b: 2", "a: *missing", "? complex\n: key", "a: \"unclosed",
            "key: @value", "- a\nb: 1", "a:\n  b: 1\n c: 2",
        ] {
            #expect(throws: RegoError.self, "\(text)") { try Value.parseYAML(text) }
        }
        // Bounded nesting.
        #expect(throws: RegoError.self) { try Value.parseYAML(String(repeating: "[", count: 500)) }
        #expect(throws: RegoError.self) { try Value.parseYAML((0..<300).map { String(repeating: " ", count: $0) + "a:" }.joined(separator: "\n")) }
    }

    @Test func marshalRoundTrips() throws {
        let samples = [
            #"{"a": [1, 2, {"b": [["x", "y"], []], "c": {}}], "d": "true", "e": "", "f": "- dash", "g": "a: b", "h": "line\nbreak", "i": null, "j": 1.5}"#,
            #"[[1, [2, 3]], {"k": "v"}, "yes", "0x10", "~", " padded "]"#,
        ]
        for sample in samples {
            let value = try json(sample)
            #expect(try yaml(value.yamlText) == value, "\(value.yamlText)")
        }
        #expect(try json(#"{"b": [1, 2], "a": {"c": "d"}}"#).yamlText == "a:\n  c: d\nb:\n- 1\n- 2\n")
    }

    @Test func builtinsThroughPolicies() throws {
        let policy = try Policy(modules: [
            "p.rego": """
            package p
            doc := yaml.unmarshal("tools:\\n- read\\n- write\\n")
            valid := [yaml.is_valid("a: 1"), yaml.is_valid("a: {"), yaml.is_valid(1)]
            round := yaml.unmarshal(yaml.marshal({"s": {1, 2}}))
            """
        ])
        #expect(try policy.prepare("data.p.doc").evaluate().first?["$value"] == json(#"{"tools": ["read", "write"]}"#))
        #expect(try policy.prepare("data.p.valid").evaluate().first?["$value"] == json("[true, false, false]"))
        #expect(try policy.prepare("data.p.round").evaluate().first?["$value"] == json(#"{"s": [1, 2]}"#))
        let bad = try Policy(modules: ["p.rego": "package p\nx := yaml.unmarshal(\"a: {\")"])
        #expect(throws: RegoError.self) { try bad.prepare("data.p.x").evaluate(strictBuiltinErrors: true) }
    }

    /// Every YAML file of OPA's conformance data, read by this reader and by Yams (libyaml): the
    /// same values.
    @Test func agreesWithLibyamlOnTheConformanceFiles() async throws {
        try await onOwnThread { try Self.agreesWithLibyamlOnTheConformanceFilesWork() }
    }

    static func agreesWithLibyamlOnTheConformanceFilesWork() throws -> [String] {
        var problems: [String] = []
        guard let root = ConformanceCase.root else {
            print("note: OPA conformance data not found; YAML differential test skipped")
            return []
        }
        var compared = 0
        var differences: [String] = []
        let enumerator = FileManager.default.enumerator(atPath: root.path)
        while let file = enumerator?.nextObject() as? String {
            guard file.hasSuffix(".yaml") else { continue }
            let text = try String(contentsOf: root.appendingPathComponent(file), encoding: .utf8)
            let expected = Value(foundation: try Yams.load(yaml: text))
            do {
                let got = try Value.parseYAML(text)
                if got != expected {
                    // Yams reads integers beyond 64 bits as doubles; OPA (and this reader) keep them exact.
                    if file.hasSuffix("test-bitsshiftleft-0067.yaml"), got.jsonText.contains("18446744073709551614") { continue }
                    differences.append("\(file): \(got.jsonText.prefix(300)) vs \(expected.jsonText.prefix(300))")
                }
            } catch {
                differences.append("\(file): \(error)")
            }
            compared += 1
        }
        print("yaml differential: \(compared) files compared with libyaml, \(differences.count) differ")
        for difference in differences.prefix(20) { print("  differs: \(difference)") }
        if !differences.isEmpty { problems.append("\(differences.count) YAML files read differently from libyaml") }
        return problems
    }
}
