import Foundation
import Testing

@testable import Rego

/// `strings.render_template`: Go's text/template as OPA runs it (checked against OPA on probes; these
/// pin the behaviour where the conformance data is absent).
@Suite struct RenderTemplateTests {
    func render(_ template: String, _ variables: String) throws -> Value? {
        let policy = try Policy(modules: [:])
        let input = try Value.parseJSON(#"{"t": \#(Value.string(template).jsonText), "v": \#(variables)}"#)
        return try policy.prepare("x := strings.render_template(input.t, input.v)").evaluate(input: input, strictBuiltinErrors: true).first?["x"]
    }

    @Test func fieldsRangesConditionsAndFunctions() throws {
        #expect(try render("{{.test}}", #"{"test": 2023}"#) == .string("2023"))
        #expect(
            try render("{{range $i, $name := .names}}{{if $i}},{{end}}hello {{$name}}{{end}}", #"{"names": ["rohan", "john doe"]}"#)
                == .string("hello rohan,hello john doe"))
        #expect(try render("test {{.foo}} {{.baz}}", #"{"baz": 1}"#) == .string("test <undefined> 1"))
        #expect(try render("{{range .xs}}[{{.}}]{{else}}none{{end}}", #"{"xs": []}"#) == .string("none"))
        #expect(try render("{{range $k, $v := .m}}{{$k}}={{$v}};{{end}}", #"{"m": {"b": 2, "a": 1}}"#) == .string("a=1;b=2;"))
        #expect(try render(#"{{- "  x  " -}}  |  {{- 3 }}"#, "{}") == .string("  x  |3"))
        #expect(try render("{{.b}}|{{.c}}", #"{"b": [1, "x", true], "c": {"k": "v", "n": 2}}"#) == .string("[1 x true]|map[k:v n:2]"))
        #expect(try render(#"{{printf "%s-%d" .s .n}}"#, #"{"s": "x", "n": 3}"#) == .string("x-%!d(json.Number=3)"))
        #expect(
            try render(#"{{define "row"}}<{{.}}>{{end}}{{range .s}}{{template "row" .}}{{end}}"#, #"{"s": [1, 2]}"#) == .string("<1><2>"))
    }

    @Test func errorsAreGoTemplateErrors() throws {
        // A data number is a json.Number, which Go will not compare with an int.
        #expect(throws: RegoError.self) { try render("{{if eq .a 1}}one{{end}}", #"{"a": 1}"#) }
        #expect(throws: RegoError.self) { try render("{{.a", "{}") }
        #expect(throws: RegoError.self) { try render("{{nosuch 1}}", "{}") }
        // A template that calls itself stops at a depth bound.
        #expect(throws: RegoError.self) { try render(#"{{define "r"}}{{template "r"}}{{end}}{{template "r"}}"#, "{}") }
    }
}
