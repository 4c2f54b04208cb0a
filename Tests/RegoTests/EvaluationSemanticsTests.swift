import Foundation
import Testing

@testable import Rego

/// Evaluation rules found through OPA's conformance cases, checked here on their own so they hold
/// even where the conformance data is absent.
@Suite struct EvaluationSemanticsTests {
    func value(_ modules: [String: String], _ query: String, input: String? = nil, data: String = "{}") throws -> Value? {
        let policy = try Policy(modules: modules, data: try Value.parseJSON(data))
        return try policy.prepare(query).evaluate(input: input.map { try Value.parseJSON($0) }).first?["$value"]
    }

    @Test func aPackageWithoutRulesIsAnEmptyObject() throws {
        let modules = ["a.rego": "package a.b\n", "x.rego": "package x\np := data.a.b\n"]
        #expect(try value(modules, "data.x.p") == .object([:]))
        #expect(try value(modules, "data.a") == .object([.string("b"): .object([:])]))
    }

    @Test func refHeadSetRulesBuildNestedObjectsOfSets() throws {
        let module = """
            package t
            obj.sub[x][x] contains x if some x in ["one", "two"]
            obj[x][x] contains x if x := "whatever"
            flat contains y if y := obj.sub[_][_][_]
            """
        let expected = try Value.parseJSON(
            #"{"sub": {"one": {"one": ["one"]}, "two": {"two": ["two"]}}, "whatever": {"whatever": ["whatever"]}}"#
        )
        // Sets come back as sets; compare through JSON, as OPA's results are read.
        #expect(try value(["t.rego": module], "data.t.obj").map { try Value.parseJSON($0.jsonText) } == expected)
        #expect(try value(["t.rego": module], "data.t.flat") == .set([.string("one"), .string("two")]))
    }

    @Test func aBuiltinMockedByALocalVariableTakesItsValueWhereTheWithIs() throws {
        let module = """
            package t
            p if {
                some v in numbers.range(1, 10)
                q with count as v
            }
            q if count("foo") == 10
            # A mocked builtin still evaluates its argument: undefined input leaves it undefined.
            r if count(input) == 1 with count as 1
            """
        #expect(try value(["t.rego": module], "data.t.p") == .bool(true))
        #expect(try value(["t.rego": module], "data.t.r") == nil)
        #expect(try value(["t.rego": module], "data.t.r", input: "[]") == .bool(true))
    }

    @Test func aTemplateStringAsAFunctionArgumentMatchesAfterTheBody() throws {
        let module = """
            package t
            f($"{x} {input.y}") := 42 if x = "foo"
            p := f("foo bar")
            q := f("foo baz")
            """
        #expect(try value(["t.rego": module], "data.t.p", input: #"{"y": "bar"}"#) == .int(42))
        #expect(try value(["t.rego": module], "data.t.q", input: #"{"y": "bar"}"#) == nil)
    }

    @Test func objectsUnifyKeyByKeyInWhateverOrderBinds() throws {
        let module = """
            package t
            p := [x, y] if {
                a := 1
                {"a": x, "b": [x], "c": a} = {"a": y, "b": [3], "c": 1}
            }
            """
        #expect(try value(["t.rego": module], "data.t.p") == .array([.int(3), .int(3)]))
    }

    @Test func aVariableBoundOnlyByTheRefItIndexesIsFound() throws {
        let module = "package t\np := foo if {\n some foo\n foo == input.foos[foo]\n}\n"
        #expect(try value(["t.rego": module], "data.t.p", input: #"{"foos": [2, 1, 0]}"#) == .int(1))
        #expect(try value(["t.rego": module], "data.t.p", input: #"{"foos": ["foo"]}"#) == nil)
    }

    @Test func baseDataFindsANumberUnderItsStringKey() throws {
        #expect(try value(["t.rego": "package t\np := data.nested[2]\n"], "data.t.p", data: #"{"nested": {"2": "bar"}}"#) == .string("bar"))
    }

    @Test func wholeNumbersBeyond64BitsStayExact() throws {
        func row(_ expression: String) throws -> Value? {
            try Policy(modules: [:]).prepare("x := \(expression)").evaluate().first?["x"]
        }
        #expect(try row("7 % 340282366920938463463374607431768211456") == .int(7))
        #expect(try row("18446744073709551617 % 18446744073709551616") == .int(1))
        #expect(try row("-18446744073709551617 % 10") == .int(-7))
        #expect(try row("format_int(18446744073709551617, 16)") == .string("10000000000000001"))
        #expect(try row("format_int(-18446744073709551617, 8)") == .string("-2000000000000000000001"))
        #expect(try row("format_int(-15.9, 16)") == .string("-f"))
        #expect(try row("numbers.range_step(0, 10, 99999999999999999999)") == .array([.int(0)]))
        #expect(try row(#"units.parse("-3.5E2m")"#) == .number(Number("-0.35")!))
    }

    @Test func jsonPatchPathsFollowJSONPointer() throws {
        func row(_ expression: String) throws -> Value? {
            try Policy(modules: [:]).prepare("x := \(expression)").evaluate().first?["x"]
        }
        // "" is the whole document, "/" the key "".
        #expect(try row(#"json.patch({}, [{"op": "add", "path": "/", "value": 1}])"#) == .object([.string(""): .int(1)]))
        #expect(try row(#"json.patch("foo", [{"op": "replace", "path": "", "value": "bar"}])"#) == .string("bar"))
        #expect(try row(#"json.patch({"": 1}, [{"op": "test", "path": "/", "value": 1}])"#) == .object([.string(""): .int(1)]))
        // Leading zeros are not array indexes.
        #expect(try row(#"json.patch(["a", "b"], [{"op": "test", "path": "/00", "value": "a"}])"#) == nil)
    }

    @Test func templateStringsEscapeBracesAndTakeWith() throws {
        let module = #"""
            package t
            a := input.a
            raw := $`foo \{42} {1 + 1}`
            quoted := $"\{{42}"
            mocked := $"foo {a with input as {"a": 42}}"
            """#
        #expect(try value(["t.rego": module], "data.t.raw") == .string("foo {42} 2"))
        #expect(try value(["t.rego": module], "data.t.quoted") == .string("{42"))
        #expect(try value(["t.rego": module], "data.t.mocked", input: #"{"a": 1}"#) == .string("foo 42"))
        // The formatter keeps the modifier and the escape.
        let formatted = try Formatter.format(module, file: "t.rego")
        #expect(formatted.contains(#"{a with input as {"a": 42}}"#))
        #expect(formatted.contains(#"\{42}"#))
    }

    @Test func aBodyInBracesThatIsNoBodyIsATerm() throws {
        // `if {x: i | …}` is an object comprehension, the rule's one literal.
        let module = "package t\np if {x: i | some i, x in [\"a\", \"b\"]}\n"
        #expect(try value(["t.rego": module], "data.t.p") == .bool(true))
    }
}
