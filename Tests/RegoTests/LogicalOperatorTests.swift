import Foundation
import Testing

@testable import Rego

/// OPA's experimental `and` / `or` operators and `{ … }` / `not { … }` operand bodies, enabled per
/// module by `import future.keywords.and|or|not`.
@Suite struct LogicalOperatorTests {
    static let module = """
        package t
        import future.keywords.and
        import future.keywords.or
        import future.keywords.not

        admin_or_owner if input.role == "admin" or input.user == input.owner
        both if input.flag and { some n in input.xs; n > 10 }
        # `and` binds tighter than `or`.
        mixed if input.a and input.b or input.c and input.d
        no_negative if not { some n in input.xs; n < 0 }
        # Variables inside an operand stay there.
        local if {
            { a := 1; a > 0 } and { a := -1; a < 0 }
        }
        """

    func eval(_ rule: String, _ input: String) throws -> Value? {
        let policy = try Policy(modules: ["t.rego": Self.module])
        return try policy.prepare("data.t.\(rule)").evaluate(input: Value.parseJSON(input)).first?["$value"]
    }

    @Test func operatorsDecide() throws {
        #expect(try eval("admin_or_owner", #"{"role": "admin"}"#) == .bool(true))
        #expect(try eval("admin_or_owner", #"{"role": "user", "user": "u", "owner": "u"}"#) == .bool(true))
        #expect(try eval("admin_or_owner", #"{"role": "user", "user": "u", "owner": "v"}"#) == nil)
        #expect(try eval("both", #"{"xs": [1, 20], "flag": true}"#) == .bool(true))
        #expect(try eval("both", #"{"xs": [1, 2], "flag": true}"#) == nil)
        #expect(try eval("both", #"{"xs": [20], "flag": false}"#) == nil)
        #expect(try eval("mixed", #"{"a": false, "b": true, "c": true, "d": true}"#) == .bool(true))
        #expect(try eval("mixed", #"{"a": true, "b": false, "c": true, "d": false}"#) == nil)
        #expect(try eval("no_negative", #"{"xs": [0, 5]}"#) == .bool(true))
        #expect(try eval("no_negative", #"{"xs": [0, -5]}"#) == nil)
        #expect(try eval("local", "{}") == .bool(true))
    }

    @Test func withoutTheImportTheyAreNames() throws {
        // In plain rego.v1 `and` and `or` are ordinary names.
        let policy = try Policy(modules: ["p.rego": "package p\nand := 1\nor := and + 1\n"])
        #expect(try policy.prepare("data.p.or").evaluate().first?["$value"] == .int(2))
        #expect(throws: RegoError.self) {
            try Policy(modules: ["p.rego": "package p\nq if input.a or input.b\n"])
        }
    }

    @Test func formatterKeepsTheMeaning() throws {
        let formatted = try Formatter.format(Self.module)
        #expect(formatted.contains(#"admin_or_owner if input.role == "admin" or input.user == input.owner"#))
        #expect(formatted.contains("no_negative if not { some n in input.xs; n < 0 }"))
        #expect(try Formatter.format(formatted) == formatted)
        let again = try Policy(modules: ["t.rego": formatted])
        #expect(try again.prepare("data.t.mixed").evaluate(input: Value.parseJSON(#"{"a": false, "b": true, "c": true, "d": true}"#)).count == 1)
    }
}
