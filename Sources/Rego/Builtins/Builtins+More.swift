import Crypto
import Foundation

extension Builtins {
    static let more: [String: Builtin] = [
        "set": Builtin(arity: 0) { _, _ in .set([]) },
        "strings.any_prefix_match": binary { a, b in .bool(try anyMatch(a, b) { $0.hasPrefix($1) }) },
        "strings.any_suffix_match": binary { a, b in .bool(try anyMatch(a, b) { $0.hasSuffix($1) }) },
        "indexof_n": binary { a, b in
            let text = Array(try string(a, 1).unicodeScalars)
            let needle = Array(try string(b, 2).unicodeScalars)
            guard !needle.isEmpty, needle.count <= text.count else { return .array([]) }
            var found: [Value] = []
            for start in 0...(text.count - needle.count) where Array(text[start..<start + needle.count]) == needle { found.append(.int(start)) }
            return .array(found)
        },
        "object.filter": binary { a, b in
            let fields = try object(a, 1)
            let keys = try keyList(b, 2)
            return .object(fields.filter { keys.contains($0.key) })
        },
        "object.union_n": unary { value in
            var result: [Value: Value] = [:]
            for item in try array(value, 1) {
                guard case .object(let fields) = item else { throw BuiltinError.operand(1, "an array of objects", value) }
                result = merge(result, fields)
            }
            return .object(result)
        },
        "object.subset": binary { a, b in .bool(isSubset(b, of: a)) },
        "array.flatten": unary { value in .array(flatten(try array(value, 1))) },
        "numbers.range_step": Builtin(arity: 3) { args, _ in
            let start = try integer(args[0], 1)
            let end = try integer(args[1], 2)
            if case .number(let big) = args[2], big.intValue == nil, let wide = big.integralDecimal, wide > 0 {
                // A step beyond 64 bits: the range holds `start`, and `start ± step` when that is still in it.
                let span = Decimal(end) - Decimal(start)
                guard (span < 0 ? -span : span) >= wide else { return .array([.int(start)]) }
                return .array([.int(start), .number(Number.normalized(Decimal(start) + (span < 0 ? -wide : wide)))])
            }
            let step = try integer(args[2], 3)
            guard step > 0 else { throw BuiltinError.failed("step must be a positive number above zero") }
            var values: [Value] = []
            var current = start
            while start <= end ? current <= end : current >= end {
                values.append(.int(current))
                guard values.count <= 10_000_000 else { throw BuiltinError.failed("range too large") }
                let (next, overflow) = start <= end ? current.addingReportingOverflow(step) : current.subtractingReportingOverflow(step)
                if overflow { break }
                current = next
            }
            return .array(values)
        },
        "regex.match": binary { a, b in .bool(try regex(try string(a, 1)).firstMatch(in: try string(b, 2), range: fullRange(try string(b, 2))) != nil)
        },
        "regex.is_valid": unary { value in
            guard case .string(let pattern) = value else { return .bool(false) }
            return .bool((try? NSRegularExpression(pattern: pattern)) != nil)
        },
        "regex.replace": Builtin(arity: 3) { args, _ in
            let text = try string(args[0], 1)
            let pattern = try regex(try string(args[1], 2))
            let template = try string(args[2], 3).replacingOccurrences(of: "\\$\\{?([0-9]+)\\}?", with: "\\$$1", options: .regularExpression)
            return .string(pattern.stringByReplacingMatches(in: text, range: fullRange(text), withTemplate: template))
        },
        "regex.split": binary { a, b in
            let pattern = try regex(try string(a, 1))
            let text = try string(b, 2)
            var parts: [Value] = []
            var last = text.startIndex
            for match in pattern.matches(in: text, range: fullRange(text)) {
                guard let range = Range(match.range, in: text) else { continue }
                parts.append(.string(String(text[last..<range.lowerBound])))
                last = range.upperBound
            }
            parts.append(.string(String(text[last...])))
            return .array(parts)
        },
        "units.parse": unary { value in .number(try parseUnits(try string(value, 1), bytes: false)) },
        "units.parse_bytes": unary { value in .number(try parseUnits(try string(value, 1), bytes: true)) },
        "crypto.sha256": unary { value in .string(hex(SHA256.hash(data: Data(try string(value, 1).utf8)))) },
        "crypto.sha1": unary { value in .string(hex(Insecure.SHA1.hash(data: Data(try string(value, 1).utf8)))) },
        "crypto.md5": unary { value in .string(hex(Insecure.MD5.hash(data: Data(try string(value, 1).utf8)))) },
        "time.now_ns": Builtin(arity: 0) { _, evaluator in .int(evaluator.nowNanoseconds) },
    ]

    static func hex(_ digest: some Sequence<UInt8>) -> String {
        digest.map { String(format: "%02x", $0) }.joined()
    }

    static func fullRange(_ text: String) -> NSRange { NSRange(text.startIndex..<text.endIndex, in: text) }

    static func regex(_ pattern: String) throws -> NSRegularExpression {
        // An empty pattern matches everywhere, as in Go; ICU refuses to compile it.
        let pattern = pattern.isEmpty ? "(?:)" : pattern
        do {
            return try NSRegularExpression(pattern: pattern)
        } catch {
            throw BuiltinError.failed("error parsing regexp: \(pattern)")
        }
    }

    static func keyList(_ value: Value, _ position: Int) throws -> Set<Value> {
        switch value {
        case .array(let items): return Set(items)
        case .set(let items): return items
        case .object(let fields): return Set(fields.keys)
        default: throw BuiltinError.operand(position, "one of {array, object, set}", value)
        }
    }

    static func anyMatch(_ a: Value, _ b: Value, _ test: (String, String) -> Bool) throws -> Bool {
        func strings(_ value: Value, _ position: Int) throws -> [String] {
            switch value {
            case .string(let text): return [text]
            case .array, .set:
                return try elements(value, position).map { item in
                    guard case .string(let text) = item else { throw BuiltinError.operand(position, "one of {array, set, string}", value) }
                    return text
                }
            default: throw BuiltinError.operand(position, "one of {array, set, string}", value)
            }
        }
        let texts = try strings(a, 1)
        let affixes = try strings(b, 2)
        return texts.contains { text in affixes.contains { test(text, $0) } }
    }

    /// One level: nested arrays inside the elements stay.
    static func flatten(_ items: [Value]) -> [Value] {
        items.flatMap { item -> [Value] in
            if case .array(let inner) = item { return inner }
            return [item]
        }
    }

    static func isSubset(_ sub: Value, of sup: Value) -> Bool {
        switch (sub, sup) {
        case (.object(let a), .object(let b)):
            return a.allSatisfy { key, value in b[key].map { isSubset(value, of: $0) } ?? false }
        case (.set(let a), .set(let b)): return a.isSubset(of: b)
        case (.array(let a), .array(let b)):
            guard a.count <= b.count else { return false }
            if a.isEmpty { return true }
            for start in 0...(b.count - a.count) where Array(b[start..<start + a.count]) == a { return true }
            return false
        case (.set(let a), .array(let b)): return a.isSubset(of: Set(b))
        default: return sub == sup
        }
    }

    /// `10K`, `1.5Mi`, `100m` (milli), `10KiB` with `bytes`; as OPA's units.parse and units.parse_bytes.
    static func parseUnits(_ raw: String, bytes: Bool) throws -> Number {
        var text = raw.replacingOccurrences(of: "\"", with: "")
        guard !text.contains(" ") || text.trimmingCharacters(in: .whitespaces) == text else {
            throw BuiltinError.failed("spaces not allowed in resource strings")
        }
        text = text.trimmingCharacters(in: .whitespaces)
        guard !text.isEmpty else { throw BuiltinError.failed("no amount provided") }
        // The longest prefix that reads as a number (an exponent only when digits follow the 'e').
        let characters = Array(text)
        var end = characters.first == "-" || characters.first == "+" ? 1 : 0
        while end < characters.count, characters[end].isNumber || characters[end] == "." { end += 1 }
        if end < characters.count, characters[end] == "e" || characters[end] == "E" {
            var probe = end + 1
            if probe < characters.count, characters[probe] == "+" || characters[probe] == "-" { probe += 1 }
            if probe < characters.count, characters[probe].isNumber {
                while probe < characters.count, characters[probe].isNumber { probe += 1 }
                end = probe
            }
        }
        var numberText = String(characters[..<end])
        if numberText.hasPrefix("+") { numberText.removeFirst() }
        if numberText.hasPrefix(".") { numberText = "0" + numberText }
        if numberText.hasPrefix("-.") { numberText = "-0" + numberText.dropFirst() }
        guard end > 0 else { throw BuiltinError.failed("no amount provided") }
        guard let amount = Number(numberText) else {
            throw BuiltinError.failed(bytes ? "could not parse byte amount to a number" : "could not parse amount to a number")
        }
        var suffix = String(characters[end...])
        if bytes {
            suffix = suffix.lowercased()
            if suffix.hasSuffix("b") { suffix.removeLast() }
        }
        let binary = suffix.lowercased().hasSuffix("i")
        let base = binary ? String(suffix.dropLast()) : suffix
        let exponents: [String: Int] = ["": 0, "k": 1, "m": 2, "g": 3, "t": 4, "p": 5, "e": 6]
        let unit: Number
        if !bytes && !binary && base == "m" {
            unit = Number("0.001")!
        } else if let power = exponents[base.lowercased()] {
            var value = Number.int(1)
            let step = Number.int(binary ? 1024 : 1000)
            for _ in 0..<power { value = value * step }
            unit = value
        } else {
            throw BuiltinError.failed("unknown unit \(suffix)")
        }
        let result = amount * unit
        return bytes ? Number.normalized((result.decimalValue ?? Decimal(result.doubleValue)).rounded()) : result
    }
}

extension Decimal {
    func rounded() -> Decimal {
        var input = self
        var output = Decimal()
        NSDecimalRound(&output, &input, 0, .plain)
        return output
    }
}
