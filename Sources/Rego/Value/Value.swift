import Foundation

/// A Rego value: JSON's values plus sets, and objects whose keys may be any value.
public enum Value: Sendable, Hashable {
    case null
    case bool(Bool)
    case number(Number)
    case string(String)
    case array([Value])
    case object([Value: Value])
    case set(Set<Value>)

    /// OPA's order of kinds, as its conformance results show it: null < boolean < number < string <
    /// array < set < object.
    var kindRank: Int {
        switch self {
        case .null: 0
        case .bool: 1
        case .number: 2
        case .string: 3
        case .array: 4
        case .set: 5
        case .object: 6
        }
    }

    /// OPA's type names, as `type_name` returns them.
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        case .set: "set"
        }
    }

    public static func int(_ value: Int) -> Value { .number(.int(value)) }
}

extension Value: Comparable {
    public static func < (lhs: Value, rhs: Value) -> Bool { compare(lhs, rhs) < 0 }

    /// OPA's total order: by kind, then by value. Arrays and sets compare element by element, then by
    /// length; objects compare by their sorted keys, then the values under them, then size.
    public static func compare(_ lhs: Value, _ rhs: Value) -> Int {
        switch (lhs, rhs) {
        case (.null, .null): return 0
        case (.bool(let a), .bool(let b)): return a == b ? 0 : (a ? 1 : -1)
        case (.number(let a), .number(let b)): return Number.compare(a, b)
        case (.string(let a), .string(let b)): return a == b ? 0 : (Array(a.utf8).lexicographicallyPrecedes(b.utf8) ? -1 : 1)
        case (.array(let a), .array(let b)): return compareSequences(a, b)
        case (.set(let a), .set(let b)): return compareSequences(a.sorted(), b.sorted())
        case (.object(let a), .object(let b)):
            let keysA = a.keys.sorted()
            let keysB = b.keys.sorted()
            for (keyA, keyB) in zip(keysA, keysB) {
                let keyOrder = compare(keyA, keyB)
                if keyOrder != 0 { return keyOrder }
                let valueOrder = compare(a[keyA]!, b[keyB]!)
                if valueOrder != 0 { return valueOrder }
            }
            return keysA.count == keysB.count ? 0 : (keysA.count < keysB.count ? -1 : 1)
        default:
            return lhs.kindRank < rhs.kindRank ? -1 : 1
        }
    }

    static func compareSequences(_ a: [Value], _ b: [Value]) -> Int {
        for (x, y) in zip(a, b) {
            let order = compare(x, y)
            if order != 0 { return order }
        }
        return a.count == b.count ? 0 : (a.count < b.count ? -1 : 1)
    }
}

extension Value {
    /// Converts what JSONSerialization or a YAML loader produces (dictionaries, arrays, strings,
    /// numbers, booleans, NSNull) into a value; numbers are read exactly from their text.
    public init(foundation any: Any?) {
        switch any {
        case nil, is NSNull: self = .null
        case let flag as Bool: self = .bool(flag)
        case let int as Int: self = .int(int)
        case let double as Double: self = .number(Number(String(double)) ?? .float(double))
        case let text as String: self = .string(text)
        case let array as [Any]: self = .array(array.map { Value(foundation: $0) })
        case let object as [String: Any]:
            var fields: [Value: Value] = [:]
            for (key, item) in object { fields[.string(key)] = Value(foundation: item) }
            self = .object(fields)
        default: self = .string("\(any!)")
        }
    }
}
