import Crypto
import Foundation

extension Builtins {
    static let batch3: [String: Builtin] = [
        "glob.match": Builtin(arity: 3) { args, _ in
            let pattern = try string(args[0], 1)
            var delimiters: [Character] = []
            switch args[1] {
            case .null: delimiters = []
            case .array(let items):
                delimiters = try items.flatMap { item -> [Character] in
                    guard case .string(let text) = item else { throw BuiltinError.operand(2, "an array of strings", args[1]) }
                    return Array(text)
                }
                if items.isEmpty { delimiters = ["."] }
            default: throw BuiltinError.operand(2, "an array of strings or null", args[1])
            }
            let text = try string(args[2], 3)
            let expression = try globRegex(pattern, delimiters: delimiters)
            return .bool(try regex(expression).rangeOfFirstMatch(in: text, range: fullRange(text)).location != NSNotFound)
        },
        "json.remove": binary { a, b in
            guard case .object = a else { throw BuiltinError.operand(1, "object", a) }
            let paths = try jsonPaths(b, 2)
            return paths.reduce(a) { value, path in removing(value, path) }
        },
        "json.filter": binary { a, b in
            let paths = try jsonPaths(b, 2)
            return filtering(a, paths)
        },
        "semver.is_valid": unary { value in
            guard case .string(let text) = value else { return .bool(false) }
            return .bool(SemVer(text) != nil)
        },
        "semver.compare": binary { a, b in
            guard let x = SemVer(try string(a, 1)) else { throw BuiltinError.failed("operand 1: string \(a.jsonText) is not a valid SemVer") }
            guard let y = SemVer(try string(b, 2)) else { throw BuiltinError.failed("operand 2: string \(b.jsonText) is not a valid SemVer") }
            return .int(x < y ? -1 : (y < x ? 1 : 0))
        },
        "crypto.hmac.sha256": binary { a, b in .string(hmac(SHA256.self, try string(a, 1), try string(b, 2))) },
        "crypto.hmac.sha512": binary { a, b in .string(hmac(SHA512.self, try string(a, 1), try string(b, 2))) },
        "crypto.hmac.sha1": binary { a, b in .string(hmac(Insecure.SHA1.self, try string(a, 1), try string(b, 2))) },
        "crypto.hmac.md5": binary { a, b in .string(hmac(Insecure.MD5.self, try string(a, 1), try string(b, 2))) },
        "crypto.hmac.equal": binary { a, b in
            let x = Array(try string(a, 1).utf8)
            let y = Array(try string(b, 2).utf8)
            guard x.count == y.count else { return .bool(false) }
            var difference: UInt8 = 0
            for (p, q) in zip(x, y) { difference |= p ^ q }
            return .bool(difference == 0)
        },
        "crypto.sha512": unary { value in .string(hex(SHA512.hash(data: Data(try string(value, 1).utf8)))) },
        "urlquery.encode": unary { value in .string(queryEscape(try string(value, 1))) },
        "urlquery.decode": unary { value in
            let text = try string(value, 1).replacingOccurrences(of: "+", with: " ")
            guard let decoded = text.removingPercentEncoding else { throw BuiltinError.failed("invalid URL escape") }
            return .string(decoded)
        },
        "urlquery.encode_object": unary { value in
            var parts: [String] = []
            for key in try object(value, 1).keys.sorted() {
                guard case .string(let name) = key else { continue }
                switch try object(value, 1)[key]! {
                case .string(let text): parts.append("\(queryEscape(name))=\(queryEscape(text))")
                case .array, .set:
                    for item in try elements(try object(value, 1)[key]!, 1) {
                        if case .string(let text) = item { parts.append("\(queryEscape(name))=\(queryEscape(text))") }
                    }
                default: throw BuiltinError.operand(1, "an object of strings, arrays or sets", value)
                }
            }
            return .string(parts.joined(separator: "&"))
        },
        "regex.find_n": Builtin(arity: 3) { args, _ in
            let pattern = try regex(try string(args[0], 1))
            let text = try string(args[1], 2)
            let limit = try integer(args[2], 3)
            var found: [Value] = []
            for match in pattern.matches(in: text, range: fullRange(text)) {
                if limit >= 0 && found.count >= limit { break }
                if let range = Range(match.range, in: text) { found.append(.string(String(text[range]))) }
            }
            return .array(found)
        },
        "regex.find_all_string_submatch_n": Builtin(arity: 3) { args, _ in
            let pattern = try regex(try string(args[0], 1))
            let text = try string(args[1], 2)
            let limit = try integer(args[2], 3)
            var found: [Value] = []
            for match in pattern.matches(in: text, range: fullRange(text)) {
                if limit >= 0 && found.count >= limit { break }
                var groups: [Value] = []
                for group in 0..<match.numberOfRanges {
                    let range = match.range(at: group)
                    groups.append(.string(range.location == NSNotFound ? "" : (Range(range, in: text).map { String(text[$0]) } ?? "")))
                }
                found.append(.array(groups))
            }
            return .array(found)
        },
        "graph.reachable": binary { a, b in
            let graph = try object(a, 1)
            var seen: Set<Value> = []
            var queue = try elements(b, 2)
            while let node = queue.popLast() {
                guard !seen.contains(node), graph[node] != nil else { continue }
                seen.insert(node)
                if let edges = graph[node], let next = try? elements(edges, 1) { queue.append(contentsOf: next) }
            }
            return .set(seen)
        },
        "bits.or": binary { a, b in .int(try integer(a, 1) | integer(b, 2)) },
        "bits.and": binary { a, b in .int(try integer(a, 1) & integer(b, 2)) },
        "bits.xor": binary { a, b in .int(try integer(a, 1) ^ integer(b, 2)) },
        "bits.negate": unary { value in .int(~(try integer(value, 1))) },
        "bits.lsh": binary { a, b in
            let shift = try integer(b, 2)
            guard shift >= 0 else {
                throw BuiltinError(message: "operand 2 must be an unsigned integer number but got a negative integer", isTypeError: true)
            }
            let value = try integer(a, 1)
            // Exact beyond 64 bits, as OPA's big integers are: multiply by 2^shift.
            if shift < Int.bitWidth - 1, value.magnitude <= UInt(Int.max) >> shift { return .int(value << shift) }
            guard shift <= 120 else { throw BuiltinError.failed("shift too large") }
            var result = Decimal(value)
            for _ in 0..<shift { result *= 2 }
            return .number(Number.normalized(result))
        },
        "bits.rsh": binary { a, b in
            let shift = try integer(b, 2)
            guard shift >= 0 else {
                throw BuiltinError(message: "operand 2 must be an unsigned integer number but got a negative integer", isTypeError: true)
            }
            return .int(try integer(a, 1) >> min(shift, Int.bitWidth - 1))
        },
        "base64.is_valid": unary { value in .bool(Data(base64Encoded: try string(value, 1)) != nil) },
        "io.jwt.decode": unary { value in try decodeJWT(try string(value, 1), depth: 0) },
    ]

    /// `[header, payload, signature hex]`; a token whose header says `cty: JWT` carries another token as
    /// its payload, which is decoded in turn (as OPA does); an encrypted token (JWE) is an error.
    static func decodeJWT(_ token: String, depth: Int) throws -> Value {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3 else { throw BuiltinError.failed("encoded JWT had no period separators") }
        func decodeJSON(_ part: String) throws -> Value {
            guard let data = JWT.base64URL(Substring(part)) else { throw BuiltinError.failed("JWT is not valid base64url") }
            do {
                return try Value.parseJSON(String(decoding: data, as: UTF8.self))
            } catch {
                throw BuiltinError.failed("JWT payload is not JSON")
            }
        }
        let signatureHex = JWT.base64URL(Substring(parts[2])).map { hex($0) } ?? ""
        let header = try decodeJSON(parts[0])
        if case .object(let fields) = header {
            if fields[.string("enc")] != nil { throw BuiltinError.failed("JWT is a JWE object, which is not supported") }
            if fields[.string("cty")] == .string("JWT"), depth < 8 {
                guard case .string(let inner) = try decodeJSON(parts[1]) else { throw BuiltinError.failed("nested JWT payload is not a token") }
                return try decodeJWT(inner, depth: depth + 1)
            }
        }
        return .array([header, try decodeJSON(parts[1]), .string(signatureHex)])
    }

    static func hmac<H: HashFunction>(_: H.Type, _ message: String, _ key: String) -> String {
        hex(HMAC<H>.authenticationCode(for: Data(message.utf8), using: SymmetricKey(data: Data(key.utf8))))
    }

    static func queryEscape(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-_.~")
        return (text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text).replacingOccurrences(of: "%20", with: "+")
    }

    /// `a/b/c` strings or arrays of keys, as json.remove and json.filter take them.
    static func jsonPaths(_ value: Value, _ position: Int) throws -> [[Value]] {
        let items: [Value]
        switch value {
        case .array(let list): items = list
        case .set(let set): items = set.sorted()
        default: throw BuiltinError.operand(position, "one of {array, set}", value)
        }
        return try items.map { item in
            switch item {
            case .string(let text): return text.split(separator: "/", omittingEmptySubsequences: false).map { .string(String($0)) }
            case .array(let keys): return keys
            default:
                throw BuiltinError(
                    message:
                        "operand \(position) must be one of {set, array} containing string paths or array of path segments but got \(item.typeName)",
                    isTypeError: true
                )
            }
        }
    }

    static func removing(_ value: Value, _ path: [Value]) -> Value {
        guard let first = path.first else { return value }
        switch value {
        case .object(var fields):
            if path.count == 1 {
                fields[first] = nil
            } else if let child = fields[first] {
                fields[first] = removing(child, Array(path.dropFirst()))
            }
            return .object(fields)
        case .array(var items):
            guard case .string(let text) = first, let index = Int(text), index >= 0, index < items.count else {
                if case .number(let number) = first, let index = number.intValue, index >= 0, index < items.count {
                    if path.count == 1 { items.remove(at: index) } else { items[index] = removing(items[index], Array(path.dropFirst())) }
                }
                return .array(items)
            }
            if path.count == 1 { items.remove(at: index) } else { items[index] = removing(items[index], Array(path.dropFirst())) }
            return .array(items)
        default:
            return value
        }
    }

    static func filtering(_ value: Value, _ paths: [[Value]]) -> Value {
        if paths.contains(where: \.isEmpty) { return value }
        switch value {
        case .object(let fields):
            var kept: [Value: Value] = [:]
            for (key, child) in fields {
                let below = paths.filter { $0.first == key }.map { Array($0.dropFirst()) }
                if !below.isEmpty { kept[key] = filtering(child, below) }
            }
            return .object(kept)
        case .array(let items):
            var kept: [Value] = []
            for (index, child) in items.enumerated() {
                let below = paths.filter { $0.first == .string(String(index)) || $0.first == .int(index) }.map { Array($0.dropFirst()) }
                if !below.isEmpty { kept.append(filtering(child, below)) }
            }
            return .array(kept)
        default:
            return value
        }
    }

    /// A glob pattern as a regular expression: `*` stops at delimiters, `**` does not, `?` is one
    /// non-delimiter character, `[…]` and `[!…]` are classes, `{a,b}` alternatives.
    static func globRegex(_ pattern: String, delimiters: [Character]) throws -> String {
        let delimiterClass = delimiters.isEmpty ? "" : delimiters.map { NSRegularExpression.escapedPattern(for: String($0)) }.joined()
        let notDelimiter = delimiterClass.isEmpty ? "." : "[^\(delimiterClass)]"
        var out = "^"
        let characters = Array(pattern)
        var index = 0
        var braceDepth = 0
        while index < characters.count {
            let character = characters[index]
            switch character {
            case "*":
                if index + 1 < characters.count, characters[index + 1] == "*" {
                    out += ".*"
                    index += 1
                } else {
                    out += "\(notDelimiter)*"
                }
            case "?": out += notDelimiter
            case "[":
                guard let close = characters[(index + 1)...].firstIndex(of: "]") else { throw BuiltinError.failed("unexpected end of input") }
                var body = String(characters[(index + 1)..<close])
                if body.hasPrefix("!") { body = "^" + body.dropFirst() }
                out += "[\(body)]"
                index = close
            case "{":
                braceDepth += 1
                out += "(?:"
            case "}" where braceDepth > 0:
                braceDepth -= 1
                out += ")"
            case "," where braceDepth > 0: out += "|"
            case "\\":
                if index + 1 < characters.count {
                    out += NSRegularExpression.escapedPattern(for: String(characters[index + 1]))
                    index += 1
                }
            default: out += NSRegularExpression.escapedPattern(for: String(character))
            }
            index += 1
        }
        guard braceDepth == 0 else { throw BuiltinError.failed("unexpected end of input") }
        return out + "$"
    }
}

/// Semantic versions, compared as semver 2.0.0 orders them (build metadata ignored).
struct SemVer: Comparable {
    var core: [Int]
    var prerelease: [String]

    init?(_ text: String) {
        var rest = Substring(text)
        if let plus = rest.firstIndex(of: "+") { rest = rest[..<plus] }
        var pre: [String] = []
        if let dash = rest.firstIndex(of: "-") {
            pre = rest[rest.index(after: dash)...].split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            guard !pre.contains(where: \.isEmpty) else { return nil }
            rest = rest[..<dash]
        }
        let parts = rest.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { return nil }
        var numbers: [Int] = []
        for part in parts {
            guard let value = Int(part), value >= 0, part == "0" || !part.hasPrefix("0") else { return nil }
            numbers.append(value)
        }
        core = numbers
        prerelease = pre
    }

    static func < (a: SemVer, b: SemVer) -> Bool {
        if a.core != b.core { return a.core.lexicographicallyPrecedes(b.core) }
        if a.prerelease.isEmpty != b.prerelease.isEmpty { return !a.prerelease.isEmpty }
        for (x, y) in zip(a.prerelease, b.prerelease) where x != y {
            switch (Int(x), Int(y)) {
            case (let p?, let q?): return p < q
            case (.some, nil): return true
            case (nil, .some): return false
            default: return x < y
            }
        }
        return a.prerelease.count < b.prerelease.count
    }
}
