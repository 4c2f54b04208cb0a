import Foundation

extension Builtins {
    static func stringPredicate(_ body: @escaping @Sendable (String, String) -> Bool) -> Builtin {
        binary { a, b in .bool(body(try string(a, 1), try string(b, 2))) }
    }

    static func stringMap(_ body: @escaping @Sendable (String) -> String) -> Builtin {
        unary { value in .string(body(try string(value, 1))) }
    }

    static func trimming(_ body: @escaping @Sendable (String, Set<Character>) -> String) -> Builtin {
        binary { a, b in .string(body(try string(a, 1), Set(try string(b, 2)))) }
    }

    static let strings: [String: Builtin] = [
        "concat": binary { separator, collection in
            let parts = try elements(collection, 2).map { item -> String in
                guard case .string(let text) = item else { throw BuiltinError.operand(2, "one of {array, set}", collection) }
                return text
            }
            return .string(parts.joined(separator: try string(separator, 1)))
        },
        "contains": stringPredicate { $1.isEmpty || $0.contains($1) },
        "startswith": stringPredicate { $0.hasPrefix($1) },
        "endswith": stringPredicate { $0.hasSuffix($1) },
        "lower": stringMap { $0.lowercased() },
        "upper": stringMap { $0.uppercased() },
        // By code point, as Go reverses runes (a multi-scalar emoji comes apart, as in OPA).
        "strings.reverse": stringMap { String(String.UnicodeScalarView($0.unicodeScalars.reversed())) },
        "trim_space": stringMap { $0.trimmingCharacters(in: .whitespacesAndNewlines) },
        "trim": trimming { text, cut in String(text.drop { cut.contains($0) }.reversed().drop { cut.contains($0) }.reversed()) },
        "trim_left": trimming { text, cut in String(text.drop { cut.contains($0) }) },
        "trim_right": trimming { text, cut in String(text.reversed().drop { cut.contains($0) }.reversed()) },
        "trim_prefix": binary { a, b in
            let text = try string(a, 1)
            let prefix = try string(b, 2)
            return .string(text.hasPrefix(prefix) ? String(text.dropFirst(prefix.count)) : text)
        },
        "trim_suffix": binary { a, b in
            let text = try string(a, 1)
            let suffix = try string(b, 2)
            return .string(text.hasSuffix(suffix) ? String(text.dropLast(suffix.count)) : text)
        },
        "split": binary { a, b in
            let text = try string(a, 1)
            let separator = try string(b, 2)
            if separator.isEmpty { return .array(text.map { .string(String($0)) }) }
            return .array(text.components(separatedBy: separator).map(Value.string))
        },
        "replace": Builtin(arity: 3) { args, _ in
            .string(try string(args[0], 1).replacingOccurrences(of: try string(args[1], 2), with: try string(args[2], 3)))
        },
        "indexof": binary { a, b in
            let text = Array(try string(a, 1).unicodeScalars)
            let needle = Array(try string(b, 2).unicodeScalars)
            guard !needle.isEmpty else { return .int(0) }
            guard needle.count <= text.count else { return .int(-1) }
            for start in 0...(text.count - needle.count) where Array(text[start..<start + needle.count]) == needle { return .int(start) }
            return .int(-1)
        },
        "substring": Builtin(arity: 3) { args, _ in
            let scalars = Array(try string(args[0], 1).unicodeScalars)
            let start = try integer(args[1], 2)
            let length = try integer(args[2], 3)
            guard start >= 0 else { throw BuiltinError.failed("negative offset") }
            guard start < scalars.count else { return .string("") }
            let end = length < 0 ? scalars.count : start + min(length, scalars.count - start)
            var out = String.UnicodeScalarView()
            out.append(contentsOf: scalars[start..<end])
            return .string(String(out))
        },
        "format_int": binary { a, b in
            let number = try number(a, 1)
            let base = try integer(b, 2)
            guard [2, 8, 10, 16].contains(base) else { throw BuiltinError(message: "operand 2 must be one of {2, 8, 10, 16}", isTypeError: true) }
            if case .int(let whole) = number { return .string(String(whole, radix: base)) }
            let truncated = number.doubleValue.rounded(.towardZero)
            if case .float = number, let whole = Int(exactly: truncated) { return .string(String(whole, radix: base)) }
            guard let whole = number.truncatedDecimal else { throw BuiltinError.failed("number out of range") }
            return .string(digits(of: whole, radix: base))
        },
        "sprintf": binary { a, b in .string(try sprintf(try string(a, 1), try array(b, 2))) },
    ]

    /// Go's `fmt.Sprintf` for the verbs policies use: %s %v %d %f %.Nf %x %t %q %%.
    static func sprintf(_ format: String, _ arguments: [Value]) throws -> String {
        var out = ""
        var index = 0
        let characters = Array(format)
        var position = 0
        while position < characters.count {
            let character = characters[position]
            position += 1
            guard character == "%" else {
                out.append(character)
                continue
            }
            var zeroPad = false
            var width = 0
            if position < characters.count, characters[position] == "0" {
                zeroPad = true
                position += 1
            }
            while position < characters.count, characters[position].isNumber {
                width = width * 10 + (characters[position].wholeNumberValue ?? 0)
                position += 1
            }
            var precision: Int?
            if position < characters.count, characters[position] == "." {
                position += 1
                var digits = ""
                while position < characters.count, characters[position].isNumber {
                    digits.append(characters[position])
                    position += 1
                }
                precision = Int(digits) ?? 0
            }
            guard position < characters.count else {
                out.append("%!(NOVERB)")
                break
            }
            let verb = characters[position]
            position += 1
            if verb == "%" {
                out.append("%")
                continue
            }
            guard index < arguments.count else {
                out.append("%!\(verb)(MISSING)")
                continue
            }
            let argument = arguments[index]
            index += 1
            var piece = ""
            switch (verb, argument) {
            case ("s", .string(let text)), ("v", .string(let text)): piece.append(text)
            case ("d", .number(let number)) where number.intValue != nil: piece.append(number.description)
            case ("f", .number(let number)) where number.intValue != nil, ("e", .number(let number)) where number.intValue != nil,
                ("g", .number(let number)) where number.intValue != nil:
                // OPA hands integers to Go's fmt as int64, which has no %f: Go prints a bad-verb marker,
                // with the precision as the minimum digit count.
                // The width pads the value inside the marker.
                var digits = String(number.intValue!.magnitude)
                if let precision, digits.count < precision { digits = String(repeating: "0", count: precision - digits.count) + digits }
                digits = (number.intValue! < 0 ? "-" : "") + digits
                if digits.count < width { digits = String(repeating: zeroPad ? "0" : " ", count: width - digits.count) + digits }
                out.append("%!\(verb)(int64=\(digits))")
                continue
            case ("f", .number(let number)): piece.append(String(format: "%.\(precision ?? 6)f", number.doubleValue))
            case ("x", .string(let text)): piece.append(text.utf8.map { String(format: "%02x", $0) }.joined())
            case ("x", .number(let number)) where number.intValue != nil: piece.append(String(number.intValue!, radix: 16))
            case ("X", .number(let number)) where number.intValue != nil: piece.append(String(number.intValue!, radix: 16).uppercased())
            case ("X", .string(let text)): piece.append(text.utf8.map { String(format: "%02X", $0) }.joined())
            case ("t", .bool(let flag)): piece.append(flag ? "true" : "false")
            case ("q", .string(let text)): piece.append(Value.string(text).jsonText)
            case ("v", _), ("s", _): piece.append(display(argument))
            default: piece.append("%!\(verb)(\(argument.typeName)=\(display(argument)))")
            }
            if piece.count < width {
                let padding = String(repeating: zeroPad ? "0" : " ", count: width - piece.count)
                if zeroPad, piece.hasPrefix("-") {
                    piece = "-" + padding + piece.dropFirst()
                } else {
                    piece = padding + piece
                }
            }
            out.append(piece)
        }
        if index < arguments.count {
            out.append("%!(EXTRA " + arguments[index...].map { "\($0.typeName)=\(display($0))" }.joined(separator: ", ") + ")")
        }
        return out
    }

    /// How OPA shows a value inside text: strings bare at the top, everything else as Rego text.
    static func display(_ value: Value) -> String {
        if case .string(let text) = value { return text }
        return value.regoText
    }

    /// A whole decimal's digits in `radix`, by long division of its base-10 digits.
    static func digits(of whole: Decimal, radix: Int) -> String {
        let negative = whole < 0
        var decimalDigits = (negative ? -whole : whole).description.compactMap { $0.wholeNumberValue }
        if radix == 10 { return (negative ? "-" : "") + decimalDigits.map(String.init).joined() }
        var out: [Character] = []
        while !(decimalDigits.isEmpty || decimalDigits.allSatisfy { $0 == 0 }) {
            var quotient: [Int] = []
            var carry = 0
            for digit in decimalDigits {
                let current = carry * 10 + digit
                quotient.append(current / radix)
                carry = current % radix
            }
            out.append(Character(String(carry, radix: radix)))
            decimalDigits = Array(quotient.drop(while: { $0 == 0 }))
        }
        if out.isEmpty { return "0" }
        return (negative ? "-" : "") + String(out.reversed())
    }
}
