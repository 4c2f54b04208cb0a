import Testing

@testable import Rego

@Suite struct LexerTests {
    @Test func tokensCarryPositionsAndLineBreaks() throws {
        let tokens = try Lexer.tokenize("package a\n\nallow if {\n  x := 1.5e3 # comment\n}", file: "a.rego")
        let kinds = tokens.map(\.kind)
        #expect(kinds.first == .keyword(.package))
        #expect(kinds.contains(.number("1.5e3")))
        let allow = try #require(tokens.first { $0.kind == .identifier("allow") })
        #expect(allow.line == 3 && allow.column == 1 && allow.afterNewline)
        let x = try #require(tokens.first { $0.kind == .identifier("x") })
        #expect(x.line == 4 && x.column == 3)
    }

    @Test(arguments: [
        (#""a\"b\\c\n\u00e9\ud83d\ude00""#, "a\"b\\c\n\u{e9}\u{1F600}"),
        ("`raw \\n stays`", "raw \\n stays"),
    ])
    func strings(_ source: String, _ expected: String) throws {
        let tokens = try Lexer.tokenize(source, file: "s")
        guard case .string(let value, _) = tokens[0].kind else {
            Issue.record("not a string: \(tokens[0].kind)")
            return
        }
        #expect(value == expected)
    }

    @Test(arguments: [
        ("\"unterminated", "unterminated string", 1, 1),
        ("x := \"bad \\q escape\"", "invalid escape", 1, 11),
        ("x := 01", "leading zero", 1, 6),
        ("p := 1\nq := @", "unexpected character '@'", 2, 6),
        ("x := `open", "unterminated raw string", 1, 6),
        ("x := 1e", "exponent", 1, 7),
    ])
    func errorsNamePositionAndLine(_ source: String, _ message: String, _ line: Int, _ column: Int) {
        do {
            _ = try Lexer.tokenize(source, file: "bad.rego")
            Issue.record("no error for \(source)")
        } catch {
            #expect(error.code == .parseError)
            #expect(error.message.contains(message), "\(error)")
            #expect(error.location == Location(file: "bad.rego", line: line, column: column), "\(error)")
            #expect(error.text?.isEmpty == false)
        }
    }

    @Test func sourceSizeIsBounded() {
        #expect(throws: RegoError.self) {
            try Lexer.tokenize(String(repeating: "x", count: 2_000), file: "big", limits: Limits(maxSourceBytes: 1_000))
        }
    }
}

@Suite struct ParserTests {
    static let policy = """
        package sentinel.policy

        import rego.v1
        import data.lib.helpers as h

        default allow := false

        allow if {
            input.tool.risk != "critical"
            some role in input.agent.roles
            role == "support"
            not denied
        }

        denied contains msg if {
            input.action == "delete"
            msg := sprintf("%s may not delete", [input.agent.id])
        }

        limits[tool] := n if {
            some tool, n in data.limits
            n > 0
        }

        a.b[c] := "x" if c := "k"

        f(x) := y if { y := x * 2 + 1 } else := 0

        all_small if {
            every v in input.values { v < 10 }
        }

        squares := [x * x | some x in [1, 2, 3]]
        names := {n | some n in ["a", "b"]}
        by_name := {k: v | some k, v in {"a": 1}}
        mocked if { allow with input.tool.risk as "low" with data.limits as {} }
        greeting := $"hello {input.agent.id}!"
        union_set := {1, 2} | {3}
        """

    @Test func parsesAWholePolicy() throws {
        let module = try Parser.parseModule(Self.policy, file: "policy.rego")
        #expect(module.package == ["sentinel", "policy"])
        #expect(module.imports.count == 2)
        #expect(module.imports[1].alias == "h")
        let names = module.rules.map { Term.name(ofOperator: $0.path) ?? "<ref>" }
        #expect(
            names == [
                "allow", "allow", "denied", "<ref>", "<ref>", "f", "all_small", "squares", "names", "by_name", "mocked", "greeting",
                "union_set",
            ]
        )
        let defaultRule = module.rules[0]
        #expect(defaultRule.isDefault && defaultRule.value?.kind == .boolean(false) && defaultRule.assigns)
        let allow = module.rules[1]
        #expect(allow.body.count == 4)
        #expect(allow.body[3].negated)
        if case .someIn(let key, let value, _) = allow.body[1].kind {
            #expect(key == nil && value.kind == .variable("role"))
        } else {
            Issue.record("expected some … in, got \(allow.body[1].kind)")
        }
        #expect(module.rules[2].kind == .partialSet)
        #expect(module.rules[5].kind == .function && module.rules[5].elses.count == 1)
        if case .every(_, _, _, let body) = module.rules[6].body[0].kind {
            #expect(body.count == 1)
        } else {
            Issue.record("expected every")
        }
        #expect(module.rules[10].body[0].with.count == 2)
        if case .template(let parts) = module.rules[11].value?.kind {
            #expect(parts.count == 3)
        } else {
            Issue.record("expected a template string")
        }
        if case .call(let op, _) = module.rules[12].value?.kind {
            #expect(Term.name(ofOperator: op) == "or")
        } else {
            Issue.record("expected set union")
        }
    }

    @Test func precedenceFollowsOPA() throws {
        let body = try Parser.parseQuery("x := 1 + 2 * 3 == 7")
        guard case .expression(let term) = body[0].kind, case .call(let op, let args) = term.kind else {
            Issue.record("not a call")
            return
        }
        #expect(Term.name(ofOperator: op) == "assign")
        guard case .call(let equal, let sides) = args[1].kind else {
            Issue.record("rhs is not a call")
            return
        }
        #expect(Term.name(ofOperator: equal) == "equal")
        guard case .call(let plus, let terms) = sides[0].kind, case .call(let mul, _) = terms[1].kind else {
            Issue.record("no arithmetic")
            return
        }
        #expect(Term.name(ofOperator: plus) == "plus" && Term.name(ofOperator: mul) == "mul")
        #expect(try Parser.parseQuery("x = -3")[0] != Parser.parseQuery("x = 3")[0])
    }

    @Test func newlinesSeparateLiteralsButNotInsideBrackets() throws {
        let body = try Parser.parseQuery("x := [1,\n 2]\ny := {\"a\":\n 1}; z := 3")
        #expect(body.count == 3)
    }

    @Test(arguments: [
        ("package p\nallow { true }", "'if' is required", 2, 7),
        ("package p\nallow if {}", "empty body", 2, 10),
        ("package p\nallow if { x := }", "expected a term", 2, 17),
        ("package p\ndefault allow", "default rule must have a value", 2, 1),
        ("package p\np contains x := 1 if { x := 1 }", "no value", 2, 14),
        ("allow := true", "expected 'package'", 1, 1),
        ("package p\nf(x := 1", "expected ')'", 2, 5),
        ("package p\nimport input\np := 1\nimport data.x", "imports must come before rules", 4, 1),
        ("package p\np if { some 1 }", "expected a name", 2, 13),
    ])
    func errorsAreClearAndPositioned(_ source: String, _ message: String, _ line: Int, _ column: Int) {
        do {
            _ = try Parser.parseModule(source, file: "bad.rego")
            Issue.record("no error for \(source)")
        } catch {
            #expect(error.code == .parseError)
            #expect(error.message.contains(message), "\(error)")
            #expect(error.location == Location(file: "bad.rego", line: line, column: column), "\(error)")
        }
    }

    @Test func nestingIsBounded() {
        let deep = "package p\nx := " + String(repeating: "[", count: 500) + String(repeating: "]", count: 500)
        #expect(throws: RegoError.self) { try Parser.parseModule(deep, limits: Limits(maxNesting: 100)) }
        #expect(throws: Never.self) { try Parser.parseModule("package p\nx := [[[1]]]", limits: Limits(maxNesting: 100)) }
    }
}
