import Foundation

extension Builtins {
    static let collections: [String: Builtin] = [
        "array.concat": binary { a, b in .array(try array(a, 1) + array(b, 2)) },
        "array.reverse": unary { value in .array(try array(value, 1).reversed()) },
        "array.slice": Builtin(arity: 3) { args, _ in
            let items = try array(args[0], 1)
            let start = max(0, try integer(args[1], 2))
            let end = min(items.count, try integer(args[2], 3))
            guard start < end else { return .array([]) }
            return .array(Array(items[start..<end]))
        },
        "object.get": Builtin(arity: 3) { args, _ in
            let fields = try object(args[0], 1)
            if case .array(let path) = args[1] {
                var current: Value? = args[0]
                for key in path { current = current.flatMap { Evaluator.index($0, key) } }
                return current ?? args[2]
            }
            return fields[args[1]] ?? args[2]
        },
        "object.keys": unary { value in .set(Set(try object(value, 1).keys)) },
        "object.remove": binary { a, b in
            var fields = try object(a, 1)
            let keys: [Value]
            switch b {
            case .array(let items): keys = items
            case .set(let items): keys = Array(items)
            case .object(let other): keys = Array(other.keys)
            default: throw BuiltinError.operand(2, "one of {object, set, array}", b)
            }
            for key in keys { fields[key] = nil }
            return .object(fields)
        },
        "object.union": binary { a, b in .object(merge(try object(a, 1), try object(b, 2))) },
        "intersection": unary { value in
            let sets = try set(value, 1).map { item -> Set<Value> in
                guard case .set(let inner) = item else { throw BuiltinError.operand(1, "a set of sets", value) }
                return inner
            }
            guard var result = sets.first else { return .set([]) }
            for other in sets.dropFirst() { result.formIntersection(other) }
            return .set(result)
        },
        "union": unary { value in
            var result: Set<Value> = []
            for item in try set(value, 1) {
                guard case .set(let inner) = item else { throw BuiltinError.operand(1, "a set of sets", value) }
                result.formUnion(inner)
            }
            return .set(result)
        },
        "json.marshal": unary { .string($0.jsonText) },
        "json.unmarshal": unary { value in
            do {
                return try Value.parseJSON(try string(value, 1))
            } catch let error as RegoError {
                throw BuiltinError.failed(error.message)
            }
        },
        "yaml.marshal": unary { .string($0.yamlText) },
        "yaml.unmarshal": unary { value in
            do {
                return try Value.parseYAML(try string(value, 1))
            } catch let error as RegoError {
                throw BuiltinError.failed(error.message)
            }
        },
        "yaml.is_valid": unary { value in
            guard case .string(let text) = value else { return .bool(false) }
            return .bool((try? Value.parseYAML(text)) != nil)
        },
        "json.is_valid": unary { value in
            guard case .string(let text) = value else { return .bool(false) }
            return .bool((try? Value.parseJSON(text)) != nil)
        },
    ]

    /// Deep merge: objects merge key by key, anything else on the right wins.
    static func merge(_ left: [Value: Value], _ right: [Value: Value]) -> [Value: Value] {
        var result = left
        for (key, value) in right {
            if case .object(let a) = result[key] ?? .null, case .object(let b) = value {
                result[key] = .object(merge(a, b))
            } else {
                result[key] = value
            }
        }
        return result
    }
}
