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
            var numbers: [Number] = []
            for item in try elements(value, 1) {
                guard case .number(let number) = item else { throw BuiltinError.operand(1, "one of {array, set}", value) }
                numbers.append(number)
            }
            // Integers multiply exactly; otherwise OPA accumulates in a big.Float that starts at
            // double precision (big.NewFloat(1)) and stays there, so the product is a double.
            if numbers.allSatisfy({ $0.integralDecimal != nil }) { return .number(numbers.reduce(Number.int(1), *)) }
            var product: Double = 1
            for number in numbers { product = Double(WideFloat(product) * number.wideValue) }
            guard product.isFinite else { return .number(.float(product)) }
            if product == product.rounded(), abs(product) < 9.2e18 { return .int(Int(product)) }
            return .number(Number("\(product)") ?? .float(product))
        },
        "max": unary { value in try elements(value, 1).max() },
        "min": unary { value in try elements(value, 1).min() },
        "sort": unary { value in .array(try elements(value, 1).sorted()) },
    ]
}
