import Foundation

extension Number {
    static func arithmetic(_ a: Number, _ b: Number, _ op: (Decimal, Decimal) -> Decimal, _ float: (Double, Double) -> Double) -> Number {
        if let x = a.decimalValue, let y = b.decimalValue {
            let result = op(x, y)
            if !result.isNaN { return Number.normalized(result) }
        }
        return .float(float(a.doubleValue, b.doubleValue))
    }

    static func + (a: Number, b: Number) -> Number {
        if case .int(let x) = a, case .int(let y) = b {
            let (sum, overflow) = x.addingReportingOverflow(y)
            if !overflow { return .int(sum) }
        }
        return arithmetic(a, b, +, +)
    }

    static func - (a: Number, b: Number) -> Number {
        if case .int(let x) = a, case .int(let y) = b {
            let (difference, overflow) = x.subtractingReportingOverflow(y)
            if !overflow { return .int(difference) }
        }
        return arithmetic(a, b, -, -)
    }

    static func * (a: Number, b: Number) -> Number {
        if case .int(let x) = a, case .int(let y) = b {
            let (product, overflow) = x.multipliedReportingOverflow(by: y)
            if !overflow { return .int(product) }
        }
        return arithmetic(a, b, *, *)
    }

    static func / (a: Number, b: Number) -> Number {
        if case .int(let x) = a, case .int(let y) = b, y != 0 {
            let (remainder, overflow) = x.remainderReportingOverflow(dividingBy: y)
            if !overflow, remainder == 0 { return .int(x / y) }
        }
        return arithmetic(a, b, /, /)
    }

    var isZero: Bool { self == .int(0) }
}

extension Builtins {
    static func numeric(_ body: @escaping @Sendable (Number, Number) throws -> Number) -> Builtin {
        binary { a, b in .number(try body(try number(a, 1), try number(b, 2))) }
    }

    static func rounding(_ rule: FloatingPointRoundingRule) -> Builtin {
        unary { value in
            let number = try number(value, 1)
            if case .int = number { return value }
            if let decimal = number.decimalValue {
                var input = decimal
                var output = Decimal()
                let mode: NSDecimalNumber.RoundingMode =
                    switch rule {
                    case .up: .up
                    case .down: .down
                    default: .plain
                    }
                // NSDecimalRound's .plain rounds half away from zero, like Go's math.Round.
                NSDecimalRound(&output, &input, 0, mode)
                return .number(Number.normalized(output))
            }
            return .number(.float(number.doubleValue.rounded(rule)))
        }
    }

    static let arithmetic: [String: Builtin] = [
        "plus": numeric { $0 + $1 },
        "minus": binary { a, b in
            if case .set(let x) = a, case .set(let y) = b { return .set(x.subtracting(y)) }
            if case .set = a { throw BuiltinError.operand(2, "a set", b) }
            return .number(try number(a, 1) - number(b, 2))
        },
        "mul": numeric { $0 * $1 },
        "div": numeric { a, b in
            guard !b.isZero else { throw BuiltinError.failed("divide by zero") }
            return a / b
        },
        "rem": numeric { a, b in
            guard let x = a.intValue, let y = b.intValue else { throw BuiltinError.failed("modulo on floating-point number") }
            guard y != 0 else { throw BuiltinError.failed("modulo by zero") }
            let (remainder, overflow) = x.remainderReportingOverflow(dividingBy: y)
            return .int(overflow ? 0 : remainder)
        },
        "abs": unary { value in
            let number = try number(value, 1)
            return .number(Number.compare(number, .int(0)) < 0 ? .int(0) - number : number)
        },
        "round": rounding(.toNearestOrAwayFromZero),
        "ceil": rounding(.up),
        "floor": rounding(.down),
        "numbers.range": binary { a, b in
            let start = try integer(a, 1)
            let end = try integer(b, 2)
            let (span, overflow) = end.subtractingReportingOverflow(start)
            guard !overflow, span.magnitude <= 10_000_000 else { throw BuiltinError.failed("range too large") }
            return .array((start <= end ? Array(start...end) : Array((end...start).reversed())).map(Value.int))
        },
        "and": binary { a, b in .set(try set(a, 1).intersection(try set(b, 2))) },
        "or": binary { a, b in .set(try set(a, 1).union(try set(b, 2))) },
    ]
}
