import Foundation

extension Builtins {
    /// String builtins added after the first families: counting, bounded replacing and splitting,
    /// glob quoting, query-string decoding.
    static let text: [String: Builtin] = [
        "strings.count": binary { a, b in
            let search = try string(a, 1)
            let needle = try string(b, 2)
            // As Go's strings.Count: an empty substring counts the gaps between characters.
            if needle.isEmpty { return .int(search.unicodeScalars.count + 1) }
            return .int(search.components(separatedBy: needle).count - 1)
        },
        "strings.replace_n": binary { a, b in
            let patterns = try object(a, 1)
            var text = try string(b, 2)
            // Go's strings.NewReplacer: patterns tried in argument order (sorted keys here, as OPA
            // iterates the object), left to right, without rescanning replaced text.
            var pairs: [(String, String)] = []
            for key in patterns.keys.sorted() {
                guard case .string(let old) = key else { throw BuiltinError.operand(1, "an object with string keys", a) }
                guard case .string(let new) = patterns[key]! else { throw BuiltinError.operand(1, "an object with string values", a) }
                pairs.append((old, new))
            }
            var output = ""
            var index = text.startIndex
            scan: while index < text.endIndex {
                for (old, new) in pairs where !old.isEmpty && text[index...].hasPrefix(old) {
                    output += new
                    index = text.index(index, offsetBy: old.count)
                    continue scan
                }
                output.append(text[index])
                index = text.index(after: index)
            }
            text = output
            return .string(text)
        },
        "strings.split_n": Builtin(arity: 3) { args, _ in
            let text = try string(args[0], 1)
            let separator = try string(args[1], 2)
            let limit = try integer(args[2], 3)
            return .array(splitN(text, separator, limit).map(Value.string))
        },
        "glob.quote_meta": unary { value in
            let text = try string(value, 1)
            var output = ""
            for character in text {
                if "*?\\[]{}".contains(character) { output.append("\\") }
                output.append(character)
            }
            return .string(output)
        },
        "urlquery.decode_object": unary { value in
            let text = try string(value, 1)
            var result: [Value: [Value]] = [:]
            for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard let key = queryUnescape(String(parts[0])) else { throw BuiltinError.failed("invalid URL escape") }
                guard let item = queryUnescape(parts.count > 1 ? String(parts[1]) : "") else {
                    throw BuiltinError.failed("invalid URL escape")
                }
                result[.string(key), default: []].append(.string(item))
            }
            return .object(result.mapValues(Value.array))
        },
    ]

    /// `strings.split_n`: the first `limit` pieces, or with a negative limit the last ones; 0 gives none.
    /// An empty separator splits between characters.
    static func splitN(_ text: String, _ separator: String, _ limit: Int) -> [String] {
        let pieces = separator.isEmpty ? (text.isEmpty ? [""] : text.map(String.init)) : text.components(separatedBy: separator)
        if limit >= 0 { return Array(pieces.prefix(limit)) }
        return Array(pieces.suffix(Int(limit.magnitude)))
    }

    /// Go's url.QueryUnescape: `+` is a space, `%XX` a byte; `nil` for a malformed escape.
    static func queryUnescape(_ text: String) -> String? {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "+"): bytes.append(UInt8(ascii: " "))
            case UInt8(ascii: "%"):
                guard let high = iterator.next(), let low = iterator.next(),
                    let value = UInt8(String(bytes: [high, low], encoding: .ascii) ?? "", radix: 16)
                else { return nil }
                bytes.append(value)
            default: bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
