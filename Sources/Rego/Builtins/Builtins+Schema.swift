import Foundation

/// `json.verify_schema` and `json.match_schema`: JSON Schema (drafts 4 to 7) as OPA checks it, with the
/// same error objects (`{error, type, field, desc}`), texts and order, so a policy that reports schema
/// errors reads the same under Warden. Remote `$ref`s are refused: policies do not fetch.
extension Builtins {
    static let schema: [String: Builtin] = [
        "json.verify_schema": unary { value in
            if case .string(let text) = value, (try? Value.parseJSON(text)) == nil {
                return .array([.bool(false), .string("jsonschema: invalid JSON string")])
            }
            do {
                _ = try JSONSchema(schemaDocument(value, 1))
                return .array([.bool(true), .null])
            } catch let error as JSONSchema.SchemaError {
                return .array([.bool(false), .string("jsonschema: \(error.message)")])
            }
        },
        "json.match_schema": binary { documentValue, schemaValue in
            let document = try schemaDocument(documentValue, 1)
            let schema: JSONSchema
            do {
                schema = try JSONSchema(schemaDocument(schemaValue, 2))
            } catch let error as JSONSchema.SchemaError {
                throw BuiltinError.failed(error.message)
            }
            let failures = try schema.validate(document)
            return .array([
                .bool(failures.isEmpty),
                .array(
                    failures.map { failure in
                        .object([
                            .string("error"): .string("\(failure.field): \(failure.description)"),
                            .string("type"): .string(failure.type),
                            .string("field"): .string(failure.field),
                            .string("desc"): .string(failure.description),
                        ])
                    }),
            ])
        },
    ]

    /// A schema or document argument: JSON text, or a value read as JSON (sets become arrays).
    static func schemaDocument(_ value: Value, _ position: Int) throws -> Value {
        switch value {
        case .string(let text):
            do {
                return try Value.parseJSON(text)
            } catch {
                throw BuiltinError.failed("invalid JSON string")
            }
        case .object:
            return try Value.parseJSON(value.jsonText)
        default:
            throw BuiltinError.operand(position, "one of {object, string}", value)
        }
    }
}

/// A compiled JSON Schema. Subschemas reachable through `$ref` are compiled once, by pointer.
final class JSONSchema {
    struct SchemaError: Error {
        var message: String
    }

    struct Failure {
        var type: String
        var field: String
        var description: String
    }

    enum Additional {
        case absent
        case allowed(Bool)
        case schema(Node)
    }

    enum Dependency {
        case keys([String])
        case schema(Node)
    }

    /// One schema object (or `true` / `false`).
    final class Node {
        var always: Bool?
        var reference: String?
        var types: [String] = []
        var properties: [(String, Node)] = []
        var patternProperties: [(String, NSRegularExpression, Node)] = []
        var additionalProperties = Additional.absent
        var required: [String] = []
        var dependencies: [(String, Dependency)] = []
        var propertyNames: Node?
        var minProperties: Int?
        var maxProperties: Int?
        var items: Node?
        var tupleItems: [Node]?
        var additionalItems = Additional.absent
        var minItems: Int?
        var maxItems: Int?
        var uniqueItems = false
        var contains: Node?
        var minLength: Int?
        var maxLength: Int?
        var pattern: (String, NSRegularExpression)?
        var format: String?
        var minimum: Number?
        var maximum: Number?
        var exclusiveMinimum: Number?
        var exclusiveMaximum: Number?
        var multipleOf: Number?
        var constant: Value?
        var enumeration: [Value]?
        var anyOf: [Node] = []
        var oneOf: [Node] = []
        var allOf: [Node] = []
        var not: Node?
        var ifNode: Node?
        var thenNode: Node?
        var elseNode: Node?
    }

    static let typeNames = ["array", "boolean", "integer", "number", "null", "object", "string"]
    /// Nesting of subschemas and of `$ref` hops during validation, so a schema cannot recurse forever.
    static let maximumDepth = 256

    let root: Value
    private(set) var byPointer: [String: Node] = [:]
    private(set) var top: Node!

    init(_ document: Value) throws {
        root = document
        top = try node(at: "#", depth: 0)
    }

    // MARK: Compiling

    func node(at pointer: String, depth: Int) throws -> Node {
        if let known = byPointer[pointer] { return known }
        var value = root
        let path = pointer.dropFirst(pointer.hasPrefix("#/") ? 2 : 1)
        if !path.isEmpty {
            for raw in path.split(separator: "/", omittingEmptySubsequences: false) {
                let key = (raw.removingPercentEncoding ?? String(raw)).replacingOccurrences(of: "~1", with: "/")
                    .replacingOccurrences(of: "~0", with: "~")
                switch value {
                case .object(let fields):
                    guard let next = fields[.string(key)] else { throw SchemaError(message: "Object has no key '\(key)'") }
                    value = next
                case .array(let items):
                    guard let index = Int(key), items.indices.contains(index) else { throw SchemaError(message: "Array has no index \(key)") }
                    value = items[index]
                default:
                    throw SchemaError(message: "Object has no key '\(key)'")
                }
            }
        }
        let node = Node()
        byPointer[pointer] = node
        try compile(value, into: node, pointer: pointer, depth: depth)
        return node
    }

    func child(_ value: Value, _ pointer: String, depth: Int) throws -> Node {
        guard depth < JSONSchema.maximumDepth else { throw SchemaError(message: "schema nesting is deeper than \(JSONSchema.maximumDepth)") }
        if let known = byPointer[pointer] { return known }
        let node = Node()
        byPointer[pointer] = node
        try compile(value, into: node, pointer: pointer, depth: depth)
        return node
    }

    static func escape(_ key: String) -> String {
        key.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
    }

    func compile(_ value: Value, into node: Node, pointer: String, depth: Int) throws {
        switch value {
        case .bool(let always):
            node.always = always
            return
        case .object:
            break
        default:
            throw SchemaError(message: pointer == "#" ? "schema is invalid" : "Expected: Valid Schema, given: Invalid JSON")
        }
        guard case .object(let fields) = value else { return }
        func field(_ name: String) -> Value? { fields[.string(name)] }
        /// A subschema; `invalid` is the message (as gojsonschema words it) when the value is no schema.
        func sub(_ value: Value, _ suffix: String, invalid: String = "Expected: Valid Schema, given: Invalid JSON") throws -> Node {
            switch value {
            case .object, .bool: return try child(value, pointer + "/" + suffix, depth: depth + 1)
            default: throw SchemaError(message: invalid)
            }
        }
        func count(_ name: String) throws -> Int? {
            guard let value = field(name) else { return nil }
            guard case .number(let number) = value, number.isInteger, let int = Int(exactly: number.doubleValue) else {
                throw SchemaError(message: "\(name) must be of an integer")
            }
            guard int >= 0 else { throw SchemaError(message: "\(name) must be greater than or equal to 0") }
            return int
        }
        func number(_ name: String, invalid: String? = nil) throws -> Number? {
            guard let value = field(name) else { return nil }
            guard case .number(let number) = value else { throw SchemaError(message: invalid ?? "\(name) must be of a Number") }
            return number
        }
        func schemas(_ name: String) throws -> [Node] {
            guard let value = field(name) else { return [] }
            guard case .array(let items) = value else { throw SchemaError(message: "\(name) must be of an array") }
            return try items.enumerated().map { index, item in try sub(item, "\(name)/\(index)") }
        }
        func regex(_ name: String, _ text: String) throws -> NSRegularExpression {
            do {
                return try Builtins.regex(text)
            } catch {
                throw SchemaError(message: "\(name) must be a valid regex")
            }
        }

        if let reference = field("$ref") {
            guard case .string(let text) = reference else { throw SchemaError(message: "Invalid type. Expected: string, given: $ref") }
            guard text.hasPrefix("#") else { throw SchemaError(message: "References to other documents are not supported: \(text)") }
            node.reference = text
            // Resolved now, so a broken reference is a schema error rather than a validation surprise.
            _ = try self.node(at: text, depth: depth + 1)
        }
        // `definitions` are checked up front; `$defs` (a later draft's name) only when a `$ref` reaches them.
        if let value = field("definitions") {
            let invalid = "Invalid type. Expected: Array Of Schemas, given: definitions"
            guard case .object(let entries) = value else { throw SchemaError(message: invalid) }
            for case (.string(let key), let item) in entries.sorted(by: { $0.key < $1.key }) {
                _ = try sub(item, "definitions/\(JSONSchema.escape(key))", invalid: invalid)
            }
        }
        if let value = field("type") {
            switch value {
            case .string(let name): node.types = [name]
            case .array(let items):
                node.types = try items.map { item in
                    guard case .string(let name) = item else {
                        throw SchemaError(message: "Invalid type. Expected: string, given: type")
                    }
                    return name
                }
                if Set(node.types).count != node.types.count {
                    throw SchemaError(message: "\(node.types.first { name in node.types.filter { $0 == name }.count > 1 } ?? "") type is duplicated")
                }
            default:
                throw SchemaError(message: "Invalid type. Expected: type, given: string/Array Of Strings")
            }
            for name in node.types where !JSONSchema.typeNames.contains(name) {
                throw SchemaError(
                    message:
                        "has a primitive type that is NOT VALID -- given: /\(name)/ Expected valid values are:[\(JSONSchema.typeNames.joined(separator: " "))]"
                )
            }
        }
        if let value = field("properties") {
            guard case .object(let entries) = value else { throw SchemaError(message: "Properties must be of type object") }
            node.properties = try entries.sorted(by: { $0.key < $1.key }).compactMap { key, item in
                guard case .string(let name) = key else { return nil }
                return (name, try sub(item, "properties/\(JSONSchema.escape(name))"))
            }
        }
        if let value = field("patternProperties") {
            guard case .object(let entries) = value else {
                throw SchemaError(message: "Invalid type. Expected: Valid Schema, given: patternProperties")
            }
            node.patternProperties = try entries.sorted(by: { $0.key < $1.key }).compactMap { key, item in
                guard case .string(let text) = key else { return nil }
                guard let compiled = try? Builtins.regex(text) else { throw SchemaError(message: "Invalid regex pattern '\(text)'") }
                return (text, compiled, try sub(item, "patternProperties/\(JSONSchema.escape(text))"))
            }
        }
        if let value = field("additionalProperties") {
            if case .bool(let allowed) = value {
                node.additionalProperties = .allowed(allowed)
            } else {
                node.additionalProperties = .schema(
                    try sub(value, "additionalProperties", invalid: "Invalid type. Expected: boolean/Valid Schema, given: additionalProperties"))
            }
        }
        if let value = field("required") {
            guard case .array(let items) = value else { throw SchemaError(message: "required must be of an array") }
            node.required = try items.map { item in
                guard case .string(let name) = item else { throw SchemaError(message: "Invalid type. Expected: string, given: required") }
                return name
            }
            if Set(node.required).count != node.required.count { throw SchemaError(message: "required items must be unique") }
        }
        if let value = field("dependencies") {
            guard case .object(let entries) = value else { throw SchemaError(message: "dependencies must be of type object") }
            let invalid = "Dependency must be of type Schema Or Array Of Strings"
            node.dependencies = try entries.sorted(by: { $0.key < $1.key }).compactMap { key, item in
                guard case .string(let name) = key else { return nil }
                if case .array(let names) = item {
                    return (
                        name,
                        .keys(
                            try names.map { entry in
                                guard case .string(let text) = entry else { throw SchemaError(message: invalid) }
                                return text
                            })
                    )
                }
                return (name, .schema(try sub(item, "dependencies/\(JSONSchema.escape(name))", invalid: invalid)))
            }
        }
        if let value = field("propertyNames") {
            node.propertyNames = try sub(value, "propertyNames", invalid: "Invalid type. Expected: Valid Schema, given: patternProperties")
        }
        node.minProperties = try count("minProperties")
        node.maxProperties = try count("maxProperties")
        if let low = node.minProperties, let high = node.maxProperties, low > high {
            throw SchemaError(message: "minProperties cannot be greater than maxProperties")
        }
        if let value = field("items") {
            let invalid = "Invalid type. Expected: Valid Schema/Array Of Schemas, given: items"
            if case .array(let items) = value {
                node.tupleItems = try items.enumerated().map { index, item in try sub(item, "items/\(index)", invalid: invalid) }
            } else {
                node.items = try sub(value, "items", invalid: invalid)
            }
        }
        if let value = field("additionalItems") {
            if case .bool(let allowed) = value {
                node.additionalItems = .allowed(allowed)
            } else {
                node.additionalItems = .schema(
                    try sub(value, "additionalItems", invalid: "Invalid type. Expected: boolean/Valid Schema, given: additionalItems"))
            }
        }
        node.minItems = try count("minItems")
        node.maxItems = try count("maxItems")
        if let value = field("uniqueItems") {
            guard case .bool(let unique) = value else { throw SchemaError(message: "uniqueItems must be of a boolean") }
            node.uniqueItems = unique
        }
        if let value = field("contains") { node.contains = try sub(value, "contains") }
        node.minLength = try count("minLength")
        node.maxLength = try count("maxLength")
        if let low = node.minLength, let high = node.maxLength, low > high {
            throw SchemaError(message: "minLength cannot be greater than maxLength")
        }
        if let value = field("pattern") {
            guard case .string(let text) = value else { throw SchemaError(message: "pattern must be of a string") }
            node.pattern = (text, try regex("pattern", text))
        }
        if let value = field("format") {
            guard case .string(let name) = value else { throw SchemaError(message: "Invalid type. Expected: string, given: format") }
            node.format = name
        }
        node.minimum = try number("minimum")
        node.maximum = try number("maximum")
        // Draft 4 says `exclusiveMinimum: true` beside `minimum`; later drafts give the bound itself.
        for (name, isMinimum) in [("exclusiveMinimum", true), ("exclusiveMaximum", false)] {
            guard let value = field(name) else { continue }
            switch value {
            case .bool(let exclusive):
                guard exclusive else { continue }
                let bound = isMinimum ? node.minimum : node.maximum
                guard let bound else { throw SchemaError(message: "\(name) cannot be used without \(isMinimum ? "minimum" : "maximum")") }
                if isMinimum {
                    node.exclusiveMinimum = bound
                    node.minimum = nil
                } else {
                    node.exclusiveMaximum = bound
                    node.maximum = nil
                }
            case .number(let bound):
                if isMinimum { node.exclusiveMinimum = bound } else { node.exclusiveMaximum = bound }
            default:
                throw SchemaError(message: "Invalid type. Expected: boolean/number, given: \(name)")
            }
        }
        if let multiple = try number("multipleOf", invalid: "Invalid type. Expected: Number, given: multipleOf") {
            guard Number.compare(multiple, .int(0)) > 0 else { throw SchemaError(message: "multipleOf must be strictly greater than 0") }
            node.multipleOf = multiple
        }
        node.constant = field("const")
        if let value = field("enum") {
            guard case .array(let items) = value else { throw SchemaError(message: "enum must be of an array") }
            guard Set(items).count == items.count else { throw SchemaError(message: "enum items must be unique") }
            node.enumeration = items
        }
        node.anyOf = try schemas("anyOf")
        node.oneOf = try schemas("oneOf")
        node.allOf = try schemas("allOf")
        if let value = field("not") { node.not = try sub(value, "not", invalid: "not must be of an object") }
        if let value = field("if") { node.ifNode = try sub(value, "if", invalid: "if must be of an object") }
        if let value = field("then") { node.thenNode = try sub(value, "then", invalid: "then must be of an object") }
        if let value = field("else") { node.elseNode = try sub(value, "else", invalid: "else must be of an object") }
    }

    // MARK: Validating

    final class Result {
        var failures: [Failure] = []
        /// How much of the schema passed: among failing alternatives (`anyOf`, `oneOf`, `contains`) the
        /// errors of the one that came closest are reported.
        var score = 0

        func add(_ type: String, _ context: [String], _ description: String) {
            failures.append(Failure(type: type, field: Result.field(context), description: description))
        }

        /// A keyword's check: its error when `failing`, otherwise a point of score.
        func check(failing: Bool, _ type: String, _ context: [String], _ description: @autoclosure () -> String) {
            if failing { add(type, context, description()) } else { score += 1 }
        }

        func merge(_ other: Result) {
            failures += other.failures
            score += other.score
        }

        static func field(_ context: [String]) -> String { context.isEmpty ? "(Root)" : context.joined(separator: ".") }
    }

    func validate(_ document: Value) throws -> [Failure] {
        let result = Result()
        try validate(top, document, [], result, depth: 0)
        return result.failures
    }

    func subValidate(_ node: Node, _ value: Value, _ context: [String], depth: Int) throws -> Result {
        let result = Result()
        try validate(node, value, context, result, depth: depth + 1)
        return result
    }

    static func typeName(_ value: Value) -> String {
        switch value {
        case .null: return "null"
        case .bool: return "boolean"
        case .number(let number): return number.isInteger ? "integer" : "number"
        case .string: return "string"
        case .array, .set: return "array"
        case .object: return "object"
        }
    }

    static func typeList(_ types: [String]) -> String {
        types.count == 1 ? types[0] : "[" + types.joined(separator: ",") + "]"
    }

    func validate(_ node: Node, _ value: Value, _ context: [String], _ result: Result, depth: Int) throws {
        guard depth < JSONSchema.maximumDepth else {
            throw BuiltinError.failed("schema validation is deeper than \(JSONSchema.maximumDepth) levels (a recursive $ref?)")
        }
        if let always = node.always {
            result.check(failing: !always, "false", context, "False always fails validation")
            return
        }
        if let reference = node.reference, let target = byPointer[reference] {
            try validate(target, value, context, result, depth: depth + 1)
            return
        }
        if !node.types.isEmpty {
            let given = JSONSchema.typeName(value)
            let matches = node.types.contains(given) || (given == "integer" && node.types.contains("number"))
            guard matches else {
                result.add(
                    "invalid_type", context, "Invalid type. Expected: \(JSONSchema.typeList(node.types)), given: \(given)")
                return
            }
        }
        // Passing the type check counts, with or without a `type` (as gojsonschema scores it).
        result.score += 1
        try validateCombinations(node, value, context, result, depth: depth)
        switch value {
        case .array(let items):
            try validateArray(node, items, context, result, depth: depth)
            validateCommon(node, value, context, result)
        case .object(let fields):
            try validateObject(node, fields, context, result, depth: depth)
            validateCommon(node, value, context, result)
            for (name, child) in node.properties {
                guard let element = fields[.string(name)] else { continue }
                result.merge(try subValidate(child, element, context + [name], depth: depth))
            }
        case .number(let number):
            validateCommon(node, value, context, result)
            validateNumber(node, number, context, result)
        case .string(let text):
            validateCommon(node, value, context, result)
            validateString(node, text, context, result)
        default:
            validateCommon(node, value, context, result)
        }
    }

    func validateCombinations(_ node: Node, _ value: Value, _ context: [String], _ result: Result, depth: Int) throws {
        if !node.anyOf.isEmpty {
            var best: Result?
            var valid = false
            for option in node.anyOf {
                let attempt = try subValidate(option, value, context, depth: depth)
                if attempt.failures.isEmpty {
                    valid = true
                    break
                }
                if best == nil || attempt.score > best!.score { best = attempt }
            }
            if valid {
                result.score += 1
            } else {
                result.add("number_any_of", context, "Must validate at least one schema (anyOf)")
                if let best { result.merge(best) }
            }
        }
        if !node.oneOf.isEmpty {
            var best: Result?
            var validCount = 0
            for option in node.oneOf {
                let attempt = try subValidate(option, value, context, depth: depth)
                if attempt.failures.isEmpty {
                    validCount += 1
                } else if validCount == 0, best == nil || attempt.score > best!.score {
                    best = attempt
                }
            }
            if validCount == 1 {
                result.score += 1
            } else {
                result.add("number_one_of", context, "Must validate one and only one schema (oneOf)")
                if validCount == 0, let best { result.merge(best) }
            }
        }
        if !node.allOf.isEmpty {
            var validCount = 0
            for option in node.allOf {
                let attempt = try subValidate(option, value, context, depth: depth)
                if attempt.failures.isEmpty { validCount += 1 }
                result.merge(attempt)
            }
            if validCount != node.allOf.count { result.add("number_all_of", context, "Must validate all the schemas (allOf)") }
        }
        if let not = node.not {
            result.check(
                failing: try subValidate(not, value, context, depth: depth).failures.isEmpty, "number_not", context,
                "Must not validate the schema (not)")
        }
        if !node.dependencies.isEmpty, case .object(let fields) = value {
            for (name, dependency) in node.dependencies where fields[.string(name)] != nil {
                switch dependency {
                case .keys(let names):
                    for required in names {
                        result.check(failing: fields[.string(required)] == nil, "missing_dependency", context, "Has a dependency on \(required)")
                    }
                case .schema(let schema):
                    result.merge(try subValidate(schema, value, context, depth: depth))
                }
            }
        }
        if let condition = node.ifNode {
            let holds = try subValidate(condition, value, context, depth: depth).failures.isEmpty
            if holds, let then = node.thenNode {
                let attempt = try subValidate(then, value, context, depth: depth)
                if !attempt.failures.isEmpty {
                    result.add("condition_then", context, #"Must validate "then" as "if" was valid"#)
                    result.merge(attempt)
                }
            }
            if !holds, let otherwise = node.elseNode {
                let attempt = try subValidate(otherwise, value, context, depth: depth)
                if !attempt.failures.isEmpty {
                    result.add("condition_else", context, #"Must validate "else" as "if" was not valid"#)
                    result.merge(attempt)
                }
            }
        }
    }

    func validateArray(_ node: Node, _ items: [Value], _ context: [String], _ result: Result, depth: Int) throws {
        if let schema = node.items {
            for (index, item) in items.enumerated() {
                result.merge(try subValidate(schema, item, context + [String(index)], depth: depth))
            }
        } else if let tuple = node.tupleItems, !tuple.isEmpty {
            for (index, (schema, item)) in zip(tuple, items).enumerated() {
                result.merge(try subValidate(schema, item, context + [String(index)], depth: depth))
            }
            if tuple.count < items.count {
                switch node.additionalItems {
                case .allowed(false): result.add("array_no_additional_items", context, "No additional items allowed on array")
                case .schema(let schema):
                    for index in tuple.count..<items.count {
                        result.merge(try subValidate(schema, items[index], context + [String(index)], depth: depth))
                    }
                default: break
                }
            }
        }
        if let minimum = node.minItems {
            result.check(failing: items.count < minimum, "array_min_items", context, "Array must have at least \(minimum) items")
        }
        if let maximum = node.maxItems {
            result.check(failing: items.count > maximum, "array_max_items", context, "Array must have at most \(maximum) items")
        }
        if node.uniqueItems {
            var seen: [Value: Int] = [:]
            for (index, item) in items.enumerated() {
                if let first = seen[item] {
                    result.add("unique", context, "array items[\(first),\(index)] must be unique")
                }
                seen[item] = index
            }
        }
        if let contains = node.contains {
            var best: Result?
            var found = false
            for (index, item) in items.enumerated() {
                let attempt = try subValidate(contains, item, context + [String(index)], depth: depth)
                if attempt.failures.isEmpty {
                    found = true
                    break
                }
                if best == nil || attempt.score > best!.score { best = attempt }
            }
            if found {
                result.score += 1
            } else {
                result.add("contains", context, "At least one of the items must match")
                if let best { result.merge(best) }
            }
        }
    }

    func validateObject(_ node: Node, _ fields: [Value: Value], _ context: [String], _ result: Result, depth: Int) throws {
        if let minimum = node.minProperties {
            result.check(failing: fields.count < minimum, "array_min_properties", context, "Must have at least \(minimum) properties")
        }
        if let maximum = node.maxProperties {
            result.check(failing: fields.count > maximum, "array_max_properties", context, "Must have at most \(maximum) properties")
        }
        for name in node.required {
            result.check(failing: fields[.string(name)] == nil, "required", context, "\(name) is required")
        }
        let names = fields.keys.compactMap { key -> String? in
            if case .string(let name) = key { return name }
            return nil
        }.sorted()
        for name in names {
            let element = fields[.string(name)]!
            let described = node.properties.contains { $0.0 == name }
            var matchedPattern = false
            for (_, pattern, schema) in node.patternProperties where pattern.firstMatch(in: name, range: Builtins.fullRange(name)) != nil {
                matchedPattern = true
                result.merge(try subValidate(schema, element, context + [name], depth: depth))
            }
            guard !described, !matchedPattern else { continue }
            switch node.additionalProperties {
            case .allowed(false): result.add("additional_property_not_allowed", context, "Additional property \(name) is not allowed")
            case .schema(let schema): result.merge(try subValidate(schema, element, context + [name], depth: depth))
            default: break
            }
        }
        if let propertyNames = node.propertyNames {
            for name in names {
                let attempt = try subValidate(propertyNames, .string(name), context, depth: depth)
                if !attempt.failures.isEmpty {
                    result.add("invalid_property_name", context, "Property name of \"\(name)\" does not match")
                    result.merge(attempt)
                }
            }
        }
    }

    func validateCommon(_ node: Node, _ value: Value, _ context: [String], _ result: Result) {
        let field = Result.field(context)
        if let constant = node.constant {
            result.check(failing: !(constant == value), "const", context, "\(field) does not match: \(constant.jsonText)")
        }
        if let allowed = node.enumeration {
            result.check(
                failing: !allowed.contains(value), "enum", context,
                "\(field) must be one of the following: \(allowed.map(\.jsonText).joined(separator: ", "))")
        }
    }

    func validateNumber(_ node: Node, _ number: Number, _ context: [String], _ result: Result) {
        if let multiple = node.multipleOf {
            result.check(failing: !(JSONSchema.isMultiple(number, of: multiple)), "multiple_of", context, "Must be a multiple of \(multiple)")
        }
        if let bound = node.exclusiveMaximum {
            result.check(failing: Number.compare(number, bound) >= 0, "number_lt", context, "Must be less than \(bound)")
        }
        if let bound = node.maximum {
            result.check(failing: Number.compare(number, bound) > 0, "number_lte", context, "Must be less than or equal to \(bound)")
        }
        if let bound = node.exclusiveMinimum {
            result.check(failing: Number.compare(number, bound) <= 0, "number_gt", context, "Must be greater than \(bound)")
        }
        if let bound = node.minimum {
            result.check(failing: Number.compare(number, bound) < 0, "number_gte", context, "Must be greater than or equal to \(bound)")
        }
    }

    static func isMultiple(_ number: Number, of multiple: Number) -> Bool {
        if let value = number.decimalValue, let divisor = multiple.decimalValue {
            var quotient = value / divisor
            var rounded = Decimal()
            NSDecimalRound(&rounded, &quotient, 0, .plain)
            return rounded == quotient
        }
        let quotient = number.doubleValue / multiple.doubleValue
        return quotient.rounded() == quotient
    }

    func validateString(_ node: Node, _ text: String, _ context: [String], _ result: Result) {
        let length = text.unicodeScalars.count
        if let minimum = node.minLength {
            result.check(failing: length < minimum, "string_gte", context, "String length must be greater than or equal to \(minimum)")
        }
        if let maximum = node.maxLength {
            result.check(failing: length > maximum, "string_lte", context, "String length must be less than or equal to \(maximum)")
        }
        if let (source, pattern) = node.pattern {
            result.check(
                failing: pattern.firstMatch(in: text, range: Builtins.fullRange(text)) == nil, "pattern", context,
                "Does not match pattern '\(source)'")
        }
        if let format = node.format {
            result.check(failing: !(JSONSchema.matches(format: format, text)), "format", context, "Does not match format '\(format)'")
        }
    }

    // MARK: Formats

    /// The formats gojsonschema checks; any other format name accepts every string.
    static func matches(format: String, _ text: String) -> Bool {
        switch format {
        case "date-time": return (try? GoTime.parse(text, layout: "2006-01-02T15:04:05Z07:00")) != nil
        case "date": return (try? GoTime.parse(text, layout: "2006-01-02")) != nil
        case "time":
            return (try? GoTime.parse("1970-01-01T" + text, layout: "2006-01-02T15:04:05Z07:00")) != nil
                || (try? GoTime.parse("1970-01-01T" + text, layout: "2006-01-02T15:04:05")) != nil
        case "email", "idn-email":
            // Go's mail.ParseAddress also takes `Name <address>`.
            var text = Substring(text)
            if text.hasSuffix(">"), let open = text.lastIndex(of: "<") { text = text[text.index(after: open)..<text.index(before: text.endIndex)] }
            guard let at = text.lastIndex(of: "@") else { return false }
            return at != text.startIndex && text.index(after: at) != text.endIndex && !text.contains(" ")
        case "hostname", "idn-hostname": return isHostname(text)
        case "ipv4": return text.contains(".") && isIPAddress(text)
        case "ipv6": return text.contains(":") && isIPAddress(text)
        case "uri", "iri":
            guard let url = try? GoURL.parse(text) else { return false }
            return !url.scheme.isEmpty
        case "uri-reference", "iri-reference", "uri-template": return (try? GoURL.parse(text)) != nil
        case "uuid":
            let groups = text.split(separator: "-", omittingEmptySubsequences: false)
            return groups.map(\.count) == [8, 4, 4, 4, 12] && groups.allSatisfy { $0.allSatisfy(\.isHexDigit) }
        case "regex": return (try? Builtins.regex(text)) != nil
        case "json-pointer": return text.isEmpty || (text.hasPrefix("/") && isPointerEscaped(text))
        case "relative-json-pointer":
            let digits = text.prefix(while: \.isNumber)
            guard !digits.isEmpty else { return false }
            let rest = text.dropFirst(digits.count)
            return rest.isEmpty || rest == "#" || (rest.hasPrefix("/") && isPointerEscaped(String(rest)))
        default: return true
        }
    }

    static func isPointerEscaped(_ text: String) -> Bool {
        let characters = Array(text)
        for (index, character) in characters.enumerated() where character == "~" {
            guard index + 1 < characters.count, characters[index + 1] == "0" || characters[index + 1] == "1" else { return false }
        }
        return true
    }

    static func isHostname(_ text: String) -> Bool {
        guard !text.isEmpty, text.utf8.count <= 253 else { return false }
        let labels =
            text.hasSuffix(".")
            ? text.dropLast().split(separator: ".", omittingEmptySubsequences: false) : text.split(separator: ".", omittingEmptySubsequences: false)
        return labels.allSatisfy { label in
            !label.isEmpty && label.utf8.count <= 63 && !label.hasPrefix("-") && !label.hasSuffix("-")
                && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
        }
    }

    static func isIPAddress(_ text: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
    }
}
