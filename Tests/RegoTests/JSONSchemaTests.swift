import Foundation
import Testing

@testable import Rego

/// `json.match_schema` / `json.verify_schema`: OPA's error objects and texts (checked against OPA itself
/// by the differential corpus's `schemas` policy), here on their own.
@Suite struct JSONSchemaTests {
    func row(_ expression: String) throws -> Value? {
        try Policy(modules: [:]).prepare("x := \(expression)").evaluate(strictBuiltinErrors: true).first?["x"]
    }

    @Test func errorsNameTheFieldTheTypeAndTheRule() throws {
        let result = try row(
            #"json.match_schema({"id": "x", "tags": [1]}, {"required": ["id", "owner"], "properties": {"id": {"type": "integer"}, "tags": {"items": {"type": "string"}}}})"#
        )
        let expected = try Value.parseJSON(
            #"""
            [false, [
              {"desc": "owner is required", "error": "(Root): owner is required", "field": "(Root)", "type": "required"},
              {"desc": "Invalid type. Expected: integer, given: string", "error": "id: Invalid type. Expected: integer, given: string", "field": "id", "type": "invalid_type"},
              {"desc": "Invalid type. Expected: string, given: integer", "error": "tags.0: Invalid type. Expected: string, given: integer", "field": "tags.0", "type": "invalid_type"}
            ]]
            """#
        )
        #expect(result == expected)
        #expect(
            try row(#"json.match_schema("{\"id\": 5}", "{\"properties\": {\"id\": {\"type\": \"integer\"}}}")"#) == .array([.bool(true), .array([])]))
    }

    @Test func combinationsReportTheClosestAlternative() throws {
        let result = try row(#"json.match_schema({"v": 3}, {"properties": {"v": {"anyOf": [{"type": "string"}, {"minimum": 5}]}}})"#)
        guard case .array(let parts)? = result, case .array(let errors) = parts[1] else {
            Issue.record("no result")
            return
        }
        #expect(errors.count == 2)
        #expect(errors.last.flatMap { Evaluator.index($0, .string("type")) } == .string("number_gte"))
    }

    @Test func badSchemasAreReportedNotValidated() throws {
        #expect(
            try row(#"json.verify_schema({"type": "unknown"})"#)
                == .array([
                    .bool(false),
                    .string(
                        "jsonschema: has a primitive type that is NOT VALID -- given: /unknown/ Expected valid values are:[array boolean integer number null object string]"
                    ),
                ]))
        #expect(
            try row(##"json.verify_schema({"$ref": "#/definitions/missing"})"##)
                == .array([.bool(false), .string("jsonschema: Object has no key 'definitions'")]))
        // Policies do not fetch: a reference to another document is refused.
        #expect(
            try row(#"json.verify_schema({"$ref": "https://example.com/s.json"})"#)
                == .array([.bool(false), .string("jsonschema: References to other documents are not supported: https://example.com/s.json")]))
        #expect(throws: RegoError.self) { try row(#"json.match_schema({}, {"minLength": 3, "maxLength": 1})"#) }
    }

    @Test func aSelfReferentialSchemaIsAnErrorNotAHang() throws {
        // `{"$ref": "#"}` refers to itself without consuming the document (OPA's own process dies of a
        // stack overflow on it); here the bound on `$ref` hops makes it an error.
        do {
            _ = try row(##"json.match_schema({}, {"$ref": "#"})"##)
            Issue.record("expected an error")
        } catch {
            #expect((error as? RegoError)?.message.contains("deeper than 256") == true)
        }
        // A recursive schema that follows the document is fine.
        #expect(try row(##"json.match_schema({"a": {"a": 1}}, {"properties": {"a": {"$ref": "#"}}})"##) == .array([.bool(true), .array([])]))
    }
}
