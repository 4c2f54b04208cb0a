import Foundation

/// `regex.globs_match` (whether two regexp-style globs share a non-empty string, with the rules of
/// the glob-intersection library OPA uses, quirks included) and `regex.template_match`.
extension Builtins {
    static let patterns: [String: Builtin] = [
        "regex.globs_match": binary { left, right in
            let first = try GlobIntersection.tokens(try string(left, 1))
            let second = try GlobIntersection.tokens(try string(right, 2))
            return .bool(GlobIntersection.nonEmpty(first, second))
        },
        "regex.template_match": Builtin(arity: 4) { args, _ in
            let template = try string(args[0], 1)
            let text = try string(args[1], 2)
            let start = try string(args[2], 3).utf8.first ?? 0
            let end = try string(args[3], 4).utf8.first ?? 0
            // Outside the delimiters the template is literal; inside, a regular expression.
            let bytes = Array(template.utf8)
            var pattern = "^"
            var level = 0
            var literalStart = 0
            var groupStart = 0
            for (index, byte) in bytes.enumerated() {
                if byte == start {
                    level += 1
                    if level == 1 { groupStart = index }
                } else if byte == end {
                    level -= 1
                    if level == 0 {
                        pattern += NSRegularExpression.escapedPattern(for: String(decoding: bytes[literalStart..<groupStart], as: UTF8.self))
                        pattern += "(" + String(decoding: bytes[(groupStart + 1)..<index], as: UTF8.self) + ")"
                        literalStart = index + 1
                    } else if level < 0 {
                        throw BuiltinError.failed("unbalanced braces in \(Value.string(template).jsonText)")
                    }
                }
            }
            guard level == 0 else { throw BuiltinError.failed("unbalanced braces in \(Value.string(template).jsonText)") }
            pattern += NSRegularExpression.escapedPattern(for: String(decoding: bytes[literalStart...], as: UTF8.self)) + "$"
            return .bool(try regex(pattern).firstMatch(in: text, range: fullRange(text)) != nil)
        },
    ]
}

enum GlobIntersection {
    enum Kind: Int { case character, dot, set }

    struct Token: Equatable {
        var kind: Kind
        var characters: Set<Unicode.Scalar> = []
        /// `+` (one or more) or `*` (zero or more) after the token.
        var repeated: Character?

        /// Whether one character could match both (quantifiers aside).
        func matches(_ other: Token) -> Bool {
            let (low, high) = kind.rawValue <= other.kind.rawValue ? (self, other) : (other, self)
            switch (low.kind, high.kind) {
            case (.character, .character): return low.characters == high.characters
            case (.character, .set): return high.characters.isSuperset(of: low.characters)
            case (.set, .set): return !low.characters.isDisjoint(with: high.characters)
            default: return true  // a dot matches anything
            }
        }
    }

    static func invalid(_ input: [Unicode.Scalar], _ position: Int, _ message: String) -> BuiltinError {
        BuiltinError.failed("input:\(input.string), pos:\(position), \(message): the input provided is invalid")
    }

    /// `.` any character, `[…]` a set with ranges, `+` and `*` after a token, `\` escapes.
    static func tokens(_ text: String) throws -> [Token] {
        let input = Array(text.unicodeScalars)
        var index = 0
        /// The next character and whether it was escaped; `nil` at the end.
        func next() throws -> (Unicode.Scalar, Bool)? {
            guard index < input.count else { return nil }
            if input[index] == "\\" {
                guard index + 1 < input.count else { throw invalid(input, index, "input ends with a \\ (escape) character") }
                index += 2
                return (input[index - 1], true)
            }
            index += 1
            return (input[index - 1], false)
        }
        var result: [Token] = []
        while let (scalar, escaped) = try next() {
            var token: Token
            if !escaped && scalar == "." {
                token = Token(kind: .dot)
            } else if !escaped && scalar == "]" {
                throw invalid(input, index, "set-close ']' with no preceding '['")
            } else if !escaped && scalar == "[" {
                var members: Set<Unicode.Scalar> = []
                var previous: Unicode.Scalar?
                var closed = false
                while let (member, memberEscaped) = try next() {
                    if !memberEscaped && member == "]" {
                        closed = true
                        break
                    }
                    if !memberEscaped && member == "-" {
                        guard let low = previous else { throw invalid(input, index, "range character '-' must be preceded by a Unicode character") }
                        guard index < input.count - 1 else {
                            throw invalid(input, index, "range character '-' must be followed by a Unicode character")
                        }
                        guard let (high, highEscaped) = try next() else { break }
                        if !highEscaped && (high == "]" || high == "-") {
                            throw invalid(input, index, "range character '-' cannot be followed by a special symbol")
                        }
                        guard high.value >= low.value else {
                            throw invalid(input, index, "range is out of order: '\(high)' comes before '\(low)' in Unicode")
                        }
                        for value in low.value...high.value { if let member = Unicode.Scalar(value) { members.insert(member) } }
                        previous = nil
                        continue
                    }
                    members.insert(member)
                    previous = member
                }
                guard closed else { throw invalid(input, index, "found [ without matching ]") }
                token = Token(kind: .set, characters: members)
            } else if !escaped && (scalar == "+" || scalar == "*") {
                throw invalid(input, index, "flag '\(scalar)' must be preceded by a non-flag")
            } else {
                token = Token(kind: .character, characters: [scalar])
            }
            if index < input.count, input[index] == "+" || input[index] == "*" {
                token.repeated = Character(input[index])
                index += 1
            }
            // `t*t*` is `t*`; `t+t*` and `t*t+` are `t+`.
            if let last = result.last, last.repeated != nil, token.repeated != nil, last.kind == token.kind,
                last.characters == token.characters
            {
                if token.repeated == "+" { result[result.count - 1].repeated = "+" }
                continue
            }
            result.append(token)
        }
        return result
    }

    static func nonEmpty(_ first: [Token], _ second: [Token]) -> Bool {
        // Equal plain prefixes and suffixes are set aside first (a mismatch there settles it), all
        // but one token of each, which the walk below needs.
        var start = 0
        while start < first.count, start < second.count, first[start].repeated == nil, second[start].repeated == nil {
            guard first[start].matches(second[start]) else { return false }
            start += 1
        }
        if start > 0 { start -= 1 }
        var end1 = first.count - 1
        var end2 = second.count - 1
        while end1 >= start, end2 >= start, first[end1].repeated == nil, second[end2].repeated == nil {
            guard first[end1].matches(second[end2]) else { return false }
            end1 -= 1
            end2 -= 1
        }
        if end1 < first.count - 1 {
            end1 += 1
            end2 += 1
        }
        let a = start <= end1 ? first[start...end1] : []
        let b = start <= end2 && end2 < second.count ? second[start...end2] : []
        return plain(a, b)
    }

    /// Walks both while neither token repeats; hands over at the first that does.
    static func plain(_ a: ArraySlice<Token>, _ b: ArraySlice<Token>) -> Bool {
        var i = a.startIndex
        var j = b.startIndex
        while i < a.endIndex && j < b.endIndex {
            if a[i].repeated != nil || b[j].repeated != nil {
                let (quantified, other) = a[i].repeated != nil ? (a[i...], b[j...]) : (b[j...], a[i...])
                if quantified.first!.repeated == "+" {
                    guard quantified.first!.matches(other.first!) else { return false }
                    // It takes the other's first token, or that token, repeating too, takes it whole.
                    if star(quantified, other.dropFirst()) { return true }
                    return other.first!.repeated != nil && plain(quantified.dropFirst(), other)
                }
                return star(quantified, other)
            }
            guard a[i].matches(b[j]) else { return false }
            i += 1
            j += 1
        }
        return i == a.endIndex && j == b.endIndex
    }

    /// The repeated token takes tokens of `other` for as long as the rest cannot take over.
    static func star(_ quantified: ArraySlice<Token>, _ other: ArraySlice<Token>) -> Bool {
        let repeated = quantified.first!
        let rest = quantified.dropFirst()
        for index in other.indices {
            if let following = rest.first, other[index].matches(following), plain(rest, other[index...]) { return true }
            guard other[index].matches(repeated) else { return false }
        }
        return rest.isEmpty
    }
}
