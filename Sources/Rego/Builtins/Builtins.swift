import Foundation

/// A builtin function's failure: a type error in an operand, or another error.
struct BuiltinError: Error {
    var message: String
    var isTypeError: Bool

    static func operand(_ position: Int, _ expected: String, _ value: Value) -> BuiltinError {
        BuiltinError(message: "operand \(position) must be \(expected) but got \(value.typeName)", isTypeError: true)
    }

    static func failed(_ message: String) -> BuiltinError { BuiltinError(message: message, isTypeError: false) }
}

struct Builtin: Sendable {
    var arity: Int
    /// `nil` means undefined.
    var call: @Sendable ([Value], Evaluator) throws -> Value?
    /// The same function for two operands without an argument array (comparisons, arithmetic).
    var binaryCall: (@Sendable (Value, Value) throws -> Value?)?

    init(arity: Int, call: @escaping @Sendable ([Value], Evaluator) throws -> Value?) {
        self.arity = arity
        self.call = call
        self.binaryCall = nil
    }

    init(binary: @escaping @Sendable (Value, Value) throws -> Value?) {
        self.arity = 2
        self.call = { args, _ in try binary(args[0], args[1]) }
        self.binaryCall = binary
    }
}

/// Every builtin Warden supports, by OPA's name.
enum Builtins {
    static let table: [String: Builtin] = {
        var table: [String: Builtin] = [:]
        for family in [
            comparison, arithmetic, aggregates, strings, types, collections, encoding, more, batch3, netTime, text, jwt, jwtSigning, graphs, patch,
            uri, time, patterns, schema, templates,
        ] {
            table.merge(family) { first, _ in first }
        }
        return table
    }()

    // MARK: Operand helpers

    static func number(_ value: Value, _ position: Int) throws -> Number {
        guard case .number(let number) = value else { throw BuiltinError.operand(position, "a number", value) }
        return number
    }

    static func string(_ value: Value, _ position: Int) throws -> String {
        guard case .string(let string) = value else { throw BuiltinError.operand(position, "a string", value) }
        return string
    }

    static func integer(_ value: Value, _ position: Int) throws -> Int {
        guard case .number(let number) = value, let int = number.intValue else {
            throw BuiltinError.operand(position, "an integer", value)
        }
        return int
    }

    static func set(_ value: Value, _ position: Int) throws -> Set<Value> {
        guard case .set(let items) = value else { throw BuiltinError.operand(position, "a set", value) }
        return items
    }

    static func array(_ value: Value, _ position: Int) throws -> [Value] {
        guard case .array(let items) = value else { throw BuiltinError.operand(position, "an array", value) }
        return items
    }

    static func object(_ value: Value, _ position: Int) throws -> [Value: Value] {
        guard case .object(let fields) = value else { throw BuiltinError.operand(position, "an object", value) }
        return fields
    }

    static func unary(_ body: @escaping @Sendable (Value) throws -> Value?) -> Builtin {
        Builtin(arity: 1) { args, _ in try body(args[0]) }
    }

    static func binary(_ body: @escaping @Sendable (Value, Value) throws -> Value?) -> Builtin {
        Builtin(binary: body)
    }

    // MARK: Comparison

    static let comparison: [String: Builtin] = [
        "equal": binary { .bool($0 == $1) },
        "neq": binary { .bool($0 != $1) },
        "lt": binary { .bool(Value.compare($0, $1) < 0) },
        "lte": binary { .bool(Value.compare($0, $1) <= 0) },
        "gt": binary { .bool(Value.compare($0, $1) > 0) },
        "gte": binary { .bool(Value.compare($0, $1) >= 0) },
    ]

    // MARK: Types

    static let types: [String: Builtin] = [
        "is_number": unary { if case .number = $0 { return .bool(true) } else { return .bool(false) } },
        "is_string": unary { if case .string = $0 { return .bool(true) } else { return .bool(false) } },
        "is_boolean": unary { if case .bool = $0 { return .bool(true) } else { return .bool(false) } },
        "is_array": unary { if case .array = $0 { return .bool(true) } else { return .bool(false) } },
        "is_object": unary { if case .object = $0 { return .bool(true) } else { return .bool(false) } },
        "is_set": unary { if case .set = $0 { return .bool(true) } else { return .bool(false) } },
        "is_null": unary { if case .null = $0 { return .bool(true) } else { return .bool(false) } },
        "type_name": unary { .string($0.typeName) },
        "to_number": unary { value in
            switch value {
            case .null: return .int(0)
            case .bool(let flag): return .int(flag ? 1 : 0)
            case .number: return value
            case .string(let text):
                guard let number = Number(text) else { throw BuiltinError.failed("invalid syntax") }
                return .number(number)
            default: throw BuiltinError.operand(1, "one of {boolean, null, number, string}", value)
            }
        },
    ]
}
