public import Foundation

/// A Rego number. Integers that fit 64 bits stay exact and fast; other numbers are exact decimals
/// (38 significant digits), so `0.1 + 0.2 == 0.3` holds as it does in OPA. Magnitudes beyond a
/// decimal's range fall back to binary floating point.
public enum Number: Sendable, CustomStringConvertible {
    case int(Int)
    case decimal(Decimal)
    case float(Double)

    /// Parses JSON/Rego number text (`-12`, `3.5`, `1e-7`). `nil` for anything else.
    public init?(_ text: String) {
        guard !text.isEmpty else { return nil }
        var isInteger = true
        for (index, byte) in text.utf8.enumerated() {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): continue
            case UInt8(ascii: "-") where index == 0: continue
            case UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"), UInt8(ascii: "+"), UInt8(ascii: "-"): isInteger = false
            default: return nil
            }
        }
        if isInteger, let value = Int(text) {
            self = .int(value)
            return
        }
        // Plain decimals (`19.99`, `-0.5`) of up to 18 digits: built from their digits directly, which is
        // many times faster than Foundation's Decimal parser and gives the same value.
        if let plain = Number.plainDecimal(text) {
            self = plain
            return
        }
        guard let double = Double(text), double.isFinite else { return nil }
        if abs(double) < 1e120 && (double == 0 || abs(double) > 1e-120),
            let decimal = Decimal(string: text, locale: Number.posix),
            !decimal.isNaN
        {
            self = Number.normalized(decimal)
        } else {
            self = .float(double)
        }
    }

    public init(_ value: Int) { self = .int(value) }

    /// `[-]digits.digits` with at most 18 digits in all, as a number (`.int` when the fraction is all
    /// zeros, else a decimal); `nil` for anything else (exponents, more digits), which takes the
    /// general path. Deciding integrality from the digits spares `normalized`'s slow rounding.
    static func plainDecimal(_ text: String) -> Number? {
        var significand: UInt64 = 0
        var digits = 0
        var fractionDigits = 0
        var seenPoint = false
        var negative = false
        for (index, byte) in text.utf8.enumerated() {
            switch byte {
            case UInt8(ascii: "-") where index == 0: negative = true
            case UInt8(ascii: "."):
                guard !seenPoint, digits > 0 else { return nil }
                seenPoint = true
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                digits += 1
                guard digits <= 18 else { return nil }
                significand = significand * 10 + UInt64(byte - UInt8(ascii: "0"))
                if seenPoint { fractionDigits += 1 }
            default: return nil
            }
        }
        guard seenPoint, fractionDigits > 0 else { return nil }
        var scale: UInt64 = 1
        for _ in 0..<fractionDigits { scale *= 10 }
        if significand % scale == 0 {
            let whole = Int(significand / scale)  // below 10^18: fits
            return .int(negative ? -whole : whole)
        }
        return .decimal(Decimal(sign: negative ? .minus : .plus, exponent: -fractionDigits, significand: Decimal(significand)))
    }

    /// Made once: creating a Locale per parsed number was the largest cost of reading JSON input.
    static let posix = Locale(identifier: "en_US_POSIX")

    /// Integral decimals that fit 64 bits become `.int`, so equal numbers have one form.
    static func normalized(_ decimal: Decimal) -> Number {
        var rounded = Decimal()
        var copy = decimal
        NSDecimalRound(&rounded, &copy, 0, .plain)
        if rounded == decimal, decimal >= Decimal(Int.min), decimal <= Decimal(Int.max) {
            let number = NSDecimalNumber(decimal: decimal)
            return .int(number.intValue)
        }
        return .decimal(decimal)
    }

    public var doubleValue: Double {
        switch self {
        case .int(let value): Double(value)
        // Through the exact text: NSDecimalNumber's conversion is not correctly rounded.
        case .decimal(let value): Double(value.description) ?? NSDecimalNumber(decimal: value).doubleValue
        case .float(let value): value
        }
    }

    /// The value as a decimal, when it has one.
    public var decimalValue: Decimal? {
        switch self {
        case .int(let value): Decimal(value)
        case .decimal(let value): value
        case .float: nil
        }
    }

    public var intValue: Int? {
        if case .int(let value) = self { return value }
        return nil
    }

    public var isInteger: Bool {
        switch self {
        case .int: true
        case .decimal: integralDecimal != nil
        case .float(let value): value.rounded() == value
        }
    }

    /// The whole part (rounded toward zero) as a decimal; `nil` for a binary float beyond a decimal's range.
    var truncatedDecimal: Decimal? {
        let value: Decimal
        switch self {
        case .int(let int): return Decimal(int)
        case .decimal(let decimal): value = decimal
        case .float(let double):
            guard abs(double) < 1e38, let decimal = Decimal(string: String(format: "%.0f", double.rounded(.towardZero)), locale: Number.posix)
            else { return nil }
            return decimal
        }
        var rounded = Decimal()
        var copy = value
        NSDecimalRound(&rounded, &copy, 0, value < 0 ? .up : .down)
        return rounded
    }

    /// Shortest text that reads back as this number, as OPA prints it.
    public var description: String {
        switch self {
        case .int(let value):
            return String(value)
        case .decimal(let value):
            return value.description
        case .float(let value):
            if value.rounded() == value && abs(value) < 1e21 { return String(format: "%.0f", value) }
            return "\(value)"
        }
    }
}

extension Number: Equatable, Hashable, Comparable {
    public static func == (lhs: Number, rhs: Number) -> Bool {
        compare(lhs, rhs) == 0
    }

    public static func < (lhs: Number, rhs: Number) -> Bool {
        compare(lhs, rhs) < 0
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .int(let value): hasher.combine(value)
        // Non-integral decimals and floats hash by their nearest double: equal numbers hash alike.
        case .decimal, .float:
            let double = doubleValue
            if double.rounded() == double, let exact = Int(exactly: double) {
                hasher.combine(exact)
            } else {
                hasher.combine(double)
            }
        }
    }

    /// -1, 0 or 1.
    static func compare(_ lhs: Number, _ rhs: Number) -> Int {
        switch (lhs, rhs) {
        case (.int(let a), .int(let b)):
            return a < b ? -1 : a == b ? 0 : 1
        default:
            if let a = lhs.decimalValue, let b = rhs.decimalValue {
                return a < b ? -1 : a == b ? 0 : 1
            }
            let a = lhs.doubleValue
            let b = rhs.doubleValue
            return a < b ? -1 : a == b ? 0 : 1
        }
    }
}
