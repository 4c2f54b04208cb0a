import Crypto
import Foundation
import Synchronization
import Testing

@testable import Rego

/// The compile step rejects mistakes before any evaluation, with the position and the line.
@Suite struct CompileCheckTests {
    func compileError(_ source: String, file: String = "p.rego") -> RegoError? {
        do {
            _ = try Policy(modules: [file: source])
            return nil
        } catch {
            return error
        }
    }

    @Test func unknownFunctionIsNamedWithPositionAndLine() throws {
        let error = try #require(compileError("package p\n\nallow if {\n    cuont(input.roles) > 0\n}\n"))
        #expect(error.code == .typeError)
        #expect(error.message == "undefined function cuont")
        #expect(error.location == Location(file: "p.rego", line: 4, column: 5))
        #expect(error.text == "    cuont(input.roles) > 0")
        #expect(error.description.hasPrefix("p.rego:4:5: rego_type_error: undefined function cuont"))
    }

    @Test func networkBuiltinsAreRefusedWithTheReason() throws {
        let error = try #require(compileError("package p\nr := http.send({\"method\": \"get\", \"url\": \"http://x\"})"))
        #expect(error.message.contains("http.send is not supported"))
        #expect(error.message.contains("network"))
    }

    @Test func arityIsChecked() throws {
        let builtin = try #require(compileError("package p\nn := count([1], [2], [3])"))
        #expect(builtin.message == "count: arity mismatch: have 3 arguments, want 1 argument")
        let function = try #require(compileError("package p\nf(x) := x\ng := f(1, 2, 3)"))
        #expect(function.code == .typeError)
        #expect(function.message.hasPrefix("f: arity mismatch"))
        // One extra argument is the output.
        #expect(compileError("package p\nn if count([1], 1)\nf(x) := x\ng if f(1, 1)") == nil)
    }

    @Test(arguments: [
        ("package p\nallow if input.x == y", "y"),
        ("package p\nallow := z if input.x", "z"),
        ("package p\nallow if { not input.x[i] }", "i"),
        ("package p\nr contains x if { some x; x > 1 }", "x"),
        ("package p\ns := [v | input.a == 1]", "v"),
    ])
    func unsafeVariablesAreRejected(_ source: String, _ name: String) throws {
        let error = try #require(compileError(source))
        #expect(error.code == .unsafeVariable)
        #expect(error.message == "var \(name) is unsafe")
        #expect(error.location != nil)
    }

    @Test(arguments: [
        "package p\nallow if { some role in input.roles; role == \"admin\" }",
        "package p\nr contains x if { x := input.items[_].name }",
        "package p\nr[k] := v if { some k; v := input.m[k] }",
        "package p\nn if { count(input.xs, n0); n0 > 1 }",
        "package p\ns := {x | some y in input.ys; x := y * 2}",
        "package p\na.b[c] := 1 if { c := input.name }",
        "package p\nf([a, b]) := a + b",
        "package p\nok if { [x, y] = input.pair; x < y }",
        "package p\nok if { every k, v in input.m { v > k } }",
        "package p\nok if { xs := [y | y := input.items[_]]; count(xs) > 1 }",
        "package p\nok if { input.items[i] == 3; ys := [j | input.items[j] > i] }",
        "package p\nnow := t if t := time.now_ns() with time.now_ns as 1",
        "package p\nok if { x := 1; not input.blocked[x] }",
    ])
    func safePoliciesCompile(_ source: String) throws {
        #expect(compileError(source) == nil, "\(source)")
    }

    @Test func recursionIsRejectedWithTheCycle() throws {
        let error = try #require(compileError("package p\na if b\nb if c\nc if a"))
        #expect(error.code == .recursion)
        #expect(error.message.contains("data.p.a -> data.p.b -> data.p.c -> data.p.a"))
        let selfReference = try #require(compileError("package p\nr contains x if { some x in r }"))
        #expect(selfReference.code == .recursion)
        // A dynamic ref reads only rules it could name, so an unrelated rule is no cycle.
        let twoModules = try Policy(modules: [
            "a.rego": "package p\nq := data[x].allow if x := \"other\"", "b.rego": "package other\nallow := true",
        ])
        #expect(try twoModules.prepare("data.p.q").evaluate().first?["$value"] == .bool(true))
    }

    @Test func queriesAreCheckedAtPrepare() throws {
        let policy = try Policy(modules: ["p.rego": "package p\nf(x) := x"])
        #expect(throws: RegoError.self) { try policy.prepare("data.p.g(1)") }
        #expect(throws: RegoError.self) { try policy.prepare("nope(1)") }
        #expect(throws: RegoError.self) { try policy.prepare("y > 1") }
        #expect(try policy.prepare("x := data.p.f(1)").evaluate().first?["x"] == .int(1))
    }

    @Test func evaluationLimitsAreConfigurable() throws {
        let source = "package p\nn := count([x | some x in numbers.range(1, 5000)])"
        let tight = try Policy(modules: ["p.rego": source], limits: Limits(maxEvaluationSteps: 1_000))
        do {
            _ = try tight.prepare("data.p.n").evaluate()
            Issue.record("the step bound was not enforced")
        } catch {
            #expect(error.code == .limitExceeded)
        }
        let roomy = try Policy(modules: ["p.rego": source])
        #expect(try roomy.prepare("data.p.n").evaluate().first?["$value"] == .int(5000))
        let shallow = try Policy(modules: ["p.rego": DepthTests.chain(50)], limits: Limits(maxEvaluationDepth: 20))
        #expect(throws: RegoError.self) { try shallow.prepare("data.chain.r0").evaluate() }
    }
}

/// Numbers as OPA computes them: exact integers (beyond 64 bits too), and a 64-bit mantissa with
/// shortest printing for everything else. Figures checked against OPA v1.20.2.
@Suite struct NumberSemanticsTests {
    func value(_ expression: String) throws -> String? {
        try Policy(modules: ["n.rego": "package n\nv := \(expression)"]).prepare("data.n.v").evaluate().first?["$value"]?.jsonText
    }

    /// Exact agreement needs x87 extended precision (x86-64); elsewhere results agree to about 16 digits.
    static let extendedPrecision = MemoryLayout<WideFloat>.size > MemoryLayout<Double>.size

    @Test(.enabled(if: extendedPrecision)) func arithmeticMatchesOPA() throws {
        #expect(try value("10 / 3") == "3.3333333333333333333")
        #expect(try value("0.1 + 0.2") == "0.3")
        #expect(try value("15600.38 - 15600") == "0.37999999999999989342")
        #expect(try value("18446744073709551615 + 3") == "18446744073709551618")
        #expect(try value("6 / 3") == "2")
        #expect(try value("product([1.5, 0.251])") == "0.3765")
        #expect(try value("[ceil(-0.5), floor(-0.5), round(-0.5), floor(-1.5)]") == "[1,0,-1,-2]")
        #expect(try value("sprintf(\"%.2f|%5.1f|%d\", [0, 12, 7])") == #""%!f(int64=00)|%!f(int64=   12)|7""#)
    }
}

/// Rule indexing: many rules testing one input path answer as if every rule were tried.
@Suite struct RuleIndexTests {
    static func policy(rules: Int) -> String {
        var source = "package big\n\ndefault allow := false\n\n"
        for index in 0..<rules {
            source += "allow if {\n    input.tool == \"tool_\(index)\"\n    input.action == \"act_\(index % 7)\"\n}\n\n"
            source += "reasons contains \"r\(index)\" if {\n    input.tool == \"tool_\(index)\"\n}\n\n"
        }
        // Rules the index cannot file: always tried.
        source += "allow if input.admin == true\n\nreasons contains \"any\" if input.tool\n"
        return source
    }

    @Test func indexedAnswersMatchTheRulesAndSkipTheRest() throws {
        let policy = try Policy(modules: ["big.rego": Self.policy(rules: 2_000)])
        #expect(policy.tree.indexes["big.allow"]?.path == ["tool"])
        #expect(policy.tree.indexes["big.reasons"]?.path == ["tool"])
        let allow = try policy.prepare("data.big.allow")
        let reasons = try policy.prepare("data.big.reasons")
        func run(_ json: String) throws -> (Value?, Value?) {
            let input = try Value.parseJSON(json)
            return (try allow.evaluate(input: input).first?["$value"], try reasons.evaluate(input: input).first?["$value"])
        }
        #expect(try run(#"{"tool": "tool_1500", "action": "act_2"}"#) == (.bool(true), .set([.string("r1500"), .string("any")])))
        // `false` is not a query result: the default answers as no row.
        #expect(try run(#"{"tool": "tool_1500", "action": "act_3"}"#) == (nil, .set([.string("r1500"), .string("any")])))
        #expect(try run(#"{"tool": "nope", "admin": true}"#) == (.bool(true), .set([.string("any")])))
        #expect(try run(#"{"action": "act_2"}"#) == (nil, .set([])))
        // Evaluated under `with`, the index reads the replaced input.
        let replaced = try policy.prepare(#"x := data.big.allow with input as {"tool": "tool_7", "action": "act_0"}"#)
        #expect(try replaced.evaluate(input: try Value.parseJSON(#"{"tool": "tool_8"}"#)).first?["x"] == .bool(true))
        // Steps taken: a few rules, not 2,000.
        let evaluator = Evaluator(policy: policy, input: try Value.parseJSON(#"{"tool": "tool_3", "action": "act_3"}"#), strictBuiltinErrors: false)
        _ = try evaluator.query(try Parser.parseQuery("data.big.allow"))
        #expect(evaluator.steps < 50, "\(evaluator.steps) steps")
    }

    @Test func smallOrUnfitGroupsAreNotIndexed() throws {
        let small = try Policy(modules: ["big.rego": Self.policy(rules: 5)])
        #expect(small.tree.indexes.isEmpty)
        var source = "package mixed\n"
        for index in 0..<20 { source += "allow if input.n > \(index)\n" }
        #expect(try Policy(modules: ["m.rego": source]).tree.indexes.isEmpty)
    }
}

/// JWT verification with keys made here: a token verifies under its key only.
@Suite struct JWTVerificationTests {
    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func token(header: String, payload: String, sign: (Data) throws -> Data) rethrows -> String {
        let input = base64URL(Data(header.utf8)) + "." + base64URL(Data(payload.utf8))
        return input + "." + base64URL(try sign(Data(input.utf8)))
    }

    func verify(_ call: String) throws -> Value? {
        try Policy(modules: [:]).prepare("x := \(call)").evaluate().first?["x"]
    }

    @Test func signaturesVerifyUnderTheirKeyOnly() throws {
        let es = P256.Signing.PrivateKey()
        let esToken = try Self.token(header: #"{"alg":"ES256"}"#, payload: #"{"sub":"bot"}"#) { try es.signature(for: $0).rawRepresentation }
        let esPEM = es.publicKey.pemRepresentation.replacingOccurrences(of: "\n", with: "\\n")
        #expect(try verify("io.jwt.verify_es256(\"\(esToken)\", \"\(esPEM)\")") == .bool(true))
        let otherPEM = P256.Signing.PrivateKey().publicKey.pemRepresentation.replacingOccurrences(of: "\n", with: "\\n")
        #expect(try verify("io.jwt.verify_es256(\"\(esToken)\", \"\(otherPEM)\")") == .bool(false))

        let ed = Curve25519.Signing.PrivateKey()
        let edToken = try Self.token(header: #"{"alg":"EdDSA"}"#, payload: #"{"sub":"bot"}"#) { try ed.signature(for: $0) }
        let jwk = #"{"kty":"OKP","crv":"Ed25519","x":"\#(Self.base64URL(ed.publicKey.rawRepresentation))"}"#
        let quotedJWK = jwk.replacingOccurrences(of: "\"", with: "\\\"")
        #expect(try verify("io.jwt.verify_eddsa(\"\(edToken)\", \"\(quotedJWK)\")") == .bool(true))

        let hsToken = Self.token(header: #"{"alg":"HS256"}"#, payload: #"{"sub":"bot","exp":4102444800}"#) {
            Data(HMAC<SHA256>.authenticationCode(for: $0, using: SymmetricKey(data: Data("s3cret".utf8))))
        }
        #expect(try verify("io.jwt.verify_hs256(\"\(hsToken)\", \"s3cret\")") == .bool(true))
        #expect(try verify("io.jwt.verify_hs256(\"\(hsToken)\", \"guess\")") == .bool(false))
        // An ES256 token never verifies as HS256, whatever the secret (no algorithm confusion).
        #expect(try verify("io.jwt.verify_hs256(\"\(esToken)\", \"\(esPEM)\")") == .bool(false))
        let decoded = try verify("io.jwt.decode_verify(\"\(hsToken)\", {\"secret\": \"s3cret\"})")
        #expect(
            decoded == .array([.bool(true), .object([.string("alg"): .string("HS256")]), try Value.parseJSON(#"{"sub":"bot","exp":4102444800}"#)]))
        let expired = try verify("io.jwt.decode_verify(\"\(hsToken)\", {\"secret\": \"s3cret\", \"time\": 4102444800000000000})")
        #expect(expired == .array([.bool(false), .object([:]), .object([:])]))
    }

    @Test func signedTokensVerify() throws {
        let key = P256.Signing.PrivateKey()
        let raw = key.publicKey.rawRepresentation
        let jwk =
            #"{"kty": "EC", "crv": "P-256", "x": "\#(Self.base64URL(raw.prefix(32)))", "y": "\#(Self.base64URL(raw.suffix(32)))", "d": "\#(Self.base64URL(key.rawRepresentation))"}"#
        let rows = try Policy(modules: [:]).prepare(
            "t := io.jwt.encode_sign({\"alg\": \"ES256\"}, {\"sub\": \"bot\"}, \(jwk)); ok := io.jwt.verify_es256(t, json.marshal(\(jwk)))"
        ).evaluate()
        #expect(rows.first?["ok"] == .bool(true))
        let other = try Policy(modules: [:]).prepare("x := io.jwt.encode_sign({\"alg\": \"none\"}, {}, {\"kty\": \"oct\", \"k\": \"AA\"})")
        #expect(throws: RegoError.self) { try other.evaluate(strictBuiltinErrors: true) }
    }
}

/// Bodies learn whether they run in source order; those that need reordering keep being reordered.
@Suite struct BodyOrderTests {
    @Test func orderIsLearnedAndReorderingStillWorks() throws {
        let policy = try Policy(modules: [
            "p.rego": """
            package p
            in_order if { x := input.n; x > 1 }
            needs_reorder if { x > 1; x := input.n }
            """
        ])
        for n in [5, 0, 7, 1] {
            let input = Value.object([.string("n"): .int(n)])
            #expect(try policy.prepare("data.p.in_order").evaluate(input: input).first?["$value"] == (n > 1 ? .bool(true) : nil))
            #expect(try policy.prepare("data.p.needs_reorder").evaluate(input: input).first?["$value"] == (n > 1 ? .bool(true) : nil))
        }
        #expect(policy.tree.entries["p.in_order"]?.first?.order.load(ordering: .relaxed) == RuleTree.Entry.inOrder)
        #expect(policy.tree.entries["p.needs_reorder"]?.first?.order.load(ordering: .relaxed) == RuleTree.Entry.reordered)
    }
}
