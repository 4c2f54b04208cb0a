import Foundation
import Synchronization
import Testing

@testable import Rego

@Suite struct PolicyAPITests {
    static let source = """
        package sentinel.policy

        import rego.v1

        default allow := false

        allow if {
            input.tool.risk != "critical"
            some role in input.agent.roles
            role in data.allowed_roles
        }

        reasons contains msg if {
            not allow
            msg := sprintf("agent %s may not call %s", [input.agent.id, input.tool.name])
        }

        double(x) := y if y := x * 2
        """

    static func input(roles: [String], risk: String = "high") -> Value {
        .object([
            .string("agent"): .object([.string("id"): .string("bot"), .string("roles"): .array(roles.map(Value.string))]),
            .string("tool"): .object([.string("name"): .string("refund"), .string("risk"): .string(risk)]),
        ])
    }

    @Test func preparedQueryAnswersPerInput() throws {
        let policy = try Policy(modules: ["policy.rego": Self.source], data: try Value.parseJSON(#"{"allowed_roles":["support"]}"#))
        let allow = try policy.prepare("data.sentinel.policy.allow")
        #expect(try allow.evaluate(input: Self.input(roles: ["support"])).first?["$value"] == .bool(true))
        #expect(try allow.evaluate(input: Self.input(roles: ["sales"])).first?["$value"] == nil, "false is not a result")
        #expect(try allow.evaluate(input: Self.input(roles: ["support"], risk: "critical")).isEmpty)
        let reasons = try policy.prepare("data.sentinel.policy.reasons")
        #expect(try reasons.evaluate(input: Self.input(roles: [])).first?["$value"] == .set([.string("agent bot may not call refund")]))
        let rows = try policy.prepare("x := data.sentinel.policy.double(21)").evaluate()
        #expect(rows.first?["x"] == .int(42))
    }

    @Test func conflictsAndUnsafeVariablesAreErrors() throws {
        let conflict = try Policy(modules: ["c.rego": "package c\np := 1\np := 2"])
        #expect(throws: RegoError.self) { try conflict.prepare("data.c.p").evaluate() }
        do {
            _ = try conflict.prepare("data.c.p").evaluate()
        } catch {
            #expect(error.code == .conflict)
        }
        do {
            _ = try Policy(modules: [:]).prepare("x == 1").evaluate()
            Issue.record("unsafe query evaluated")
        } catch {
            #expect(error.code == .unsafeVariable)
        }
    }

    @Test func builtinErrorsAreUndefinedUnlessStrict() throws {
        let policy = try Policy(modules: ["p.rego": "package p\nn := to_number(input)"])
        #expect(try policy.prepare("data.p.n").evaluate(input: .string("12")).first?["$value"] == .int(12))
        #expect(try policy.prepare("data.p.n").evaluate(input: .string("twelve")).isEmpty)
        #expect(throws: RegoError.self) { try policy.prepare("data.p.n").evaluate(input: .string("twelve"), strictBuiltinErrors: true) }
    }

    @Test func evaluationStepsAreBounded() throws {
        let policy = try Policy(modules: ["p.rego": "package p\nn := count([x | some x in numbers.range(1, 200000)])"])
        let evaluator = Evaluator(policy: policy, input: nil, strictBuiltinErrors: false, maxSteps: 10_000)
        #expect(throws: RegoError.self) { try evaluator.query(try Parser.parseQuery("data.p.n")) }
    }

    @Test func prettyJSONMatchesGoIndent() throws {
        let value = try Value.parseJSON(#"{"b":[],"a":{"x":[1,{}]}}"#)
        #expect(value.prettyJSON() == "{\n  \"a\": {\n    \"x\": [\n      1,\n      {}\n    ]\n  },\n  \"b\": []\n}")
    }
}

/// Hostile values must give errors or undefined, never a trap.
@Suite struct BuiltinRobustnessTests {
    @Test(arguments: [
        "x := -9223372036854775808 / -1", "x := -9223372036854775808 % -1", "x := substring(\"abc\", 1, 9223372036854775807)",
        "x := format_int(1e300, 10)", "x := numbers.range(-9223372036854775808, 9223372036854775807)",
        "x := time.add_date(0, 9223372036854775807, 0, 0)", "x := time.add_date(0, -9223372036854775808, 0, 0)",
        "x := time.parse_rfc3339_ns(\"9999-12-31T23:59:59.999999999Z\")",
        "x := bits.lsh(1, 9223372036854775807)", "x := abs(-9223372036854775808)", "x := 9223372036854775807 + 1",
        "x := 9223372036854775807 * 9223372036854775807", "x := units.parse(\"99999999999999999999999E\")",
    ])
    func noTrap(_ query: String) throws {
        _ = try? Policy(modules: [:]).prepare(query).evaluate(strictBuiltinErrors: true)
    }
}

@Suite struct DepthTests {
    static func chain(_ length: Int) -> String {
        var source = "package chain\n"
        for index in 0..<length { source += "r\(index) := x if { x := r\(index + 1) + 1 }\n" }
        source += "r\(length) := 0\n"
        return source
    }

    @Test func deepButBoundedChainsEvaluate() throws {
        let policy = try Policy(modules: ["chain.rego": Self.chain(500)])
        #expect(try policy.prepare("data.chain.r0").evaluate().first?["$value"] == .int(500))
    }

    @Test func deepPoliciesEvaluateFromSmallStacks() throws {
        // Too deep for a 1 MiB thread stack: the evaluation moves to a large stack and still answers.
        let policy = try Policy(modules: ["chain.rego": Self.chain(800)])
        let answer = Mutex<Value?>(nil)
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            answer.withLock { $0 = try? policy.prepare("data.chain.r0").evaluate().first?["$value"] }
            done.signal()
        }
        thread.stackSize = 1 << 20
        thread.start()
        done.wait()
        #expect(answer.withLock { $0 } == .int(800))
    }

    @Test func runawayNestingIsAnErrorNotACrash() async throws {
        // Seconds of CPU in a debug build: run on a thread of its own, so the shared test threads stay
        // free for the suites that measure timeouts.
        let outcome: Result<Int, RegoError> = await withCheckedContinuation { continuation in
            Thread {
                do throws(RegoError) {
                    let policy = try Policy(modules: ["chain.rego": Self.chain(3_000)])
                    continuation.resume(returning: .success(try policy.prepare("data.chain.r0").evaluate().count))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }.start()
        }
        switch outcome {
        case .success: Issue.record("3,000 nested rules evaluated without hitting the depth bound")
        case .failure(let error): #expect(error.code == .limitExceeded, "\(error)")
        }
    }
}
