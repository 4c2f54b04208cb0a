import Foundation

#if arch(x86_64) || arch(i386)
    /// OPA computes with Go's big.Float at 64 bits of mantissa whenever an operand is not a small
    /// integer, and prints the shortest decimal that reads back at that precision. x87 extended
    /// precision has the same 64-bit significand and rounding, so results match digit for digit
    /// (`10 / 3` is `3.3333333333333333333`, twenty digits, as OPA prints it).
    typealias WideFloat = Float80
#else
    /// Without extended precision the nearest is double precision: results agree with OPA's to
    /// about 16 significant digits.
    typealias WideFloat = Double
#endif

extension Number {
    var wideValue: WideFloat {
        switch self {
        case .int(let value): return WideFloat(value)
        case .decimal(let value): return WideFloat(value.description) ?? WideFloat(NSDecimalNumber(decimal: value).doubleValue)
        case .float(let value): return WideFloat(value)
        }
    }

    init(wide value: WideFloat) {
        if value.isFinite, value == value.rounded(), value.magnitude < 9.2e18 {
            self = .int(Int(value))
        } else if value.isFinite, let number = Number("\(value)") {
            self = number
        } else {
            self = .float(Double(value))
        }
    }

    /// The value when it is a whole number, exactly.
    var integralDecimal: Decimal? {
        switch self {
        case .int(let value): return Decimal(value)
        case .decimal(let value):
            var rounded = Decimal()
            var copy = value
            NSDecimalRound(&rounded, &copy, 0, .plain)
            return rounded == value ? value : nil
        case .float: return nil
        }
    }

    /// Whole numbers beyond 64 bits stay exact (to 38 digits) while the result is whole too; any
    /// other operation takes OPA's 64-bit-mantissa path.
    static func arithmetic(_ a: Number, _ b: Number, _ exact: (Decimal, Decimal) -> Decimal, _ wide: (WideFloat, WideFloat) -> WideFloat)
        -> Number
    {
        if let x = a.integralDecimal, let y = b.integralDecimal {
            let result = Number.normalized(exact(x, y))
            if case .int = result { return result }
            if result.integralDecimal != nil, !(result.decimalValue?.isNaN ?? true) { return result }
        }
        return Number(wide: wide(a.wideValue, b.wideValue))
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
                // OPA (v1.20) rounds a number strictly between -1 and 0 as if it were positive (its
                // integer part, -0, loses the sign): ceil(-0.5) is 1 and floor(-0.5) is 0. Warden gives
                // the same answers, so policies decide alike on both engines (docs/CONFORMANCE.md).
                if decimal < 0, decimal > -1, rule == .up || rule == .down { return .int(rule == .up ? 1 : 0) }
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
            if let x = a.intValue, let y = b.intValue {
                guard y != 0 else { throw BuiltinError.failed("modulo by zero") }
                let (remainder, overflow) = x.remainderReportingOverflow(dividingBy: y)
                return .int(overflow ? 0 : remainder)
            }
            guard let x = a.integralDecimal, let y = b.integralDecimal else { throw BuiltinError.failed("modulo on floating-point number") }
            guard y != 0 else { throw BuiltinError.failed("modulo by zero") }
            return Number.normalized(bigRemainder(x, y))
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

    /// `x % y` for whole numbers beyond 64 bits (the sign follows the dividend, as in Go). Exact while
    /// the operands fit a decimal's 38 digits.
    static func bigRemainder(_ x: Decimal, _ y: Decimal) -> Decimal {
        let divisor = y < 0 ? -y : y
        let dividend = x < 0 ? -x : x
        if dividend < divisor { return x }
        var quotient = Decimal()
        var exact = dividend / divisor
        NSDecimalRound(&quotient, &exact, 0, .down)
        var remainder = dividend - quotient * divisor
        // The rounded quotient can be one off near a whole number.
        while remainder < 0 { remainder += divisor }
        while remainder >= divisor { remainder -= divisor }
        return x < 0 ? -remainder : remainder
    }
}
