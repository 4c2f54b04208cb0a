extension Builtins {
    static func elements(_ value: Value, _ position: Int) throws -> [Value] {
        switch value {
        case .array(let items): return items
        case .set(let items): return items.sorted()
        default: throw BuiltinError.operand(position, "one of {array, set}", value)
        }
    }

    static let aggregates: [String: Builtin] = [
        "count": unary { value in
            switch value {
            case .array(let items): return .int(items.count)
            case .object(let fields): return .int(fields.count)
            case .set(let items): return .int(items.count)
            case .string(let text): return .int(text.unicodeScalars.count)
            default: throw BuiltinError.operand(1, "one of {array, object, set, string}", value)
            }
        },
        "sum": unary { value in
            var total = Number.int(0)
            for item in try elements(value, 1) {
                guard case .number(let number) = item else { throw BuiltinError.operand(1, "one of {array, set}", value) }
                total = total + number
            }
            return .number(total)
        },
        "product": unary { value in
            var total = Number.int(1)
            for item in try elements(value, 1) {
                guard case .number(let number) = item else { throw BuiltinError.operand(1, "one of {array, set}", value) }
                total = total * number
            }
            return .number(total)
        },
        "max": unary { value in try elements(value, 1).max() },
        "min": unary { value in try elements(value, 1).min() },
        "sort": unary { value in .array(try elements(value, 1).sorted()) },
    ]
}
