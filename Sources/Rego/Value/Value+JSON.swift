/// A hand-written JSON reader that builds values directly (no Foundation detour), with bounds on size
/// and nesting so untrusted input cannot exhaust the process; and the matching writer.
extension Value {
    public static func parseJSON(_ text: String, maxBytes: Int = 16 << 20, maxDepth: Int = 200) throws(RegoError) -> Value {
        let bytes = Array(text.utf8)
        guard bytes.count <= maxBytes else { throw RegoError(.limitExceeded, "JSON document is larger than \(maxBytes) bytes") }
        var reader = JSONReader(bytes: bytes, maxDepth: maxDepth)
        reader.skipSpace()
        let value = try reader.value(depth: 0)
        reader.skipSpace()
        guard reader.index == bytes.count else { throw reader.error("unexpected text after the JSON value") }
        return value
    }

    /// Indented JSON as Go's `json.MarshalIndent(v, "", "  ")` writes it (and so `opa eval`):
    /// sorted keys, `"key": value`, empty arrays and objects as `[]` and `{}`.
    public func prettyJSON(indent: String = "  ") -> String {
        var out = ""
        writePretty(into: &out, level: 0, indent: indent)
        return out
    }

    func writePretty(into out: inout String, level: Int, indent: String) {
        let inner = String(repeating: indent, count: level + 1)
        let closing = String(repeating: indent, count: level)
        switch self {
        case .array, .set:
            let list: [Value]
            switch self {
            case .array(let items): list = items
            case .set(let items): list = items.sorted()
            default: list = []
            }
            guard !list.isEmpty else {
                out += "[]"
                return
            }
            out += "[\n"
            for (index, item) in list.enumerated() {
                out += inner
                item.writePretty(into: &out, level: level + 1, indent: indent)
                out += index == list.count - 1 ? "\n" : ",\n"
            }
            out += closing + "]"
        case .object(let fields):
            guard !fields.isEmpty else {
                out += "{}"
                return
            }
            let keyed = fields.map { key, value -> (String, Value) in
                if case .string(let text) = key { return (text, value) }
                return (key.jsonText, value)
            }.sorted { Array($0.0.utf8).lexicographicallyPrecedes($1.0.utf8) }
            out += "{\n"
            for (index, (key, value)) in keyed.enumerated() {
                out += inner + Value.string(key).jsonText + ": "
                value.writePretty(into: &out, level: level + 1, indent: indent)
                out += index == keyed.count - 1 ? "\n" : ",\n"
            }
            out += closing + "}"
        default:
            out += jsonText
        }
    }

    /// The value as Rego prints it: `[1, 2]`, `{"a": 1}`, `{1, 2}`, `set()`.
    public var regoText: String {
        switch self {
        case .array(let items): return "[" + items.map(\.regoText).joined(separator: ", ") + "]"
        case .set(let items): return items.isEmpty ? "set()" : "{" + items.sorted().map(\.regoText).joined(separator: ", ") + "}"
        case .object(let fields):
            return "{" + fields.keys.sorted().map { "\($0.regoText): \(fields[$0]!.regoText)" }.joined(separator: ", ") + "}"
        default: return jsonText
        }
    }

    /// Compact JSON with sorted object keys; sets are written as sorted arrays, and non-string object
    /// keys as their JSON text, as OPA does.
    public var jsonText: String {
        var out: [UInt8] = []
        writeJSON(into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    func writeJSON(into out: inout [UInt8]) {
        switch self {
        case .null: out.append(contentsOf: Array("null".utf8))
        case .bool(let value): out.append(contentsOf: Array((value ? "true" : "false").utf8))
        case .number(let number): out.append(contentsOf: Array(number.description.utf8))
        case .string(let string): Value.writeJSONString(string, into: &out)
        case .array(let items): Value.writeJSONArray(items, into: &out)
        case .set(let items): Value.writeJSONArray(items.sorted(), into: &out)
        case .object(let fields):
            out.append(UInt8(ascii: "{"))
            let keyed = fields.map { key, value -> (String, Value) in
                if case .string(let text) = key { return (text, value) }
                return (key.jsonText, value)
            }
            for (index, (key, value)) in keyed.sorted(by: { Array($0.0.utf8).lexicographicallyPrecedes($1.0.utf8) }).enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                Value.writeJSONString(key, into: &out)
                out.append(UInt8(ascii: ":"))
                value.writeJSON(into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    static func writeJSONArray(_ items: [Value], into out: inout [UInt8]) {
        out.append(UInt8(ascii: "["))
        for (index, item) in items.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            item.writeJSON(into: &out)
        }
        out.append(UInt8(ascii: "]"))
    }

    static func writeJSONString(_ value: String, into out: inout [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        out.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0x00..<0x20:
                out.append(contentsOf: [
                    UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)],
                ])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}

struct JSONReader {
    let bytes: [UInt8]
    let maxDepth: Int
    var index = 0

    init(bytes: [UInt8], maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    func error(_ message: String) -> RegoError {
        var line = 1
        var column = 1
        for byte in bytes[..<min(index, bytes.count)] {
            if byte == 0x0A {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        return RegoError(.parseError, "invalid JSON: \(message)", location: Location(file: "json", line: line, column: column))
    }

    mutating func skipSpace() {
        while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
    }

    mutating func value(depth: Int) throws(RegoError) -> Value {
        guard depth <= maxDepth else { throw RegoError(.limitExceeded, "JSON nests deeper than \(maxDepth) levels") }
        guard index < bytes.count else { throw error("unexpected end of input") }
        switch bytes[index] {
        case UInt8(ascii: "{"):
            index += 1
            var fields: [Value: Value] = [:]
            skipSpace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                index += 1
                return .object(fields)
            }
            while true {
                skipSpace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw error("expected a string key") }
                index += 1
                let key = try string()
                skipSpace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw error("expected ':' after an object key") }
                index += 1
                skipSpace()
                fields[.string(key)] = try value(depth: depth + 1)
                skipSpace()
                guard index < bytes.count else { throw error("unexpected end of input in an object") }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                    continue
                }
                guard bytes[index] == UInt8(ascii: "}") else { throw error("expected ',' or '}' in an object") }
                index += 1
                return .object(fields)
            }
        case UInt8(ascii: "["):
            index += 1
            var items: [Value] = []
            skipSpace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                index += 1
                return .array(items)
            }
            while true {
                skipSpace()
                items.append(try value(depth: depth + 1))
                skipSpace()
                guard index < bytes.count else { throw error("unexpected end of input in an array") }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                    continue
                }
                guard bytes[index] == UInt8(ascii: "]") else { throw error("expected ',' or ']' in an array") }
                index += 1
                return .array(items)
            }
        case UInt8(ascii: "\""):
            index += 1
            return .string(try string())
        case UInt8(ascii: "t"):
            try literal("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try literal("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try literal("null")
            return .null
        default:
            return .number(try number())
        }
    }

    mutating func literal(_ word: String) throws(RegoError) {
        let expected = Array(word.utf8)
        guard index + expected.count <= bytes.count, Array(bytes[index..<index + expected.count]) == expected else {
            throw error("unexpected character")
        }
        index += expected.count
    }

    mutating func number() throws(RegoError) -> Number {
        let start = index
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
        let digitsStart = index
        while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
        guard index > digitsStart else { throw error("unexpected character") }
        if bytes[digitsStart] == UInt8(ascii: "0") && index - digitsStart > 1 { throw error("leading zero in a number") }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            let fractionStart = index
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            guard index > fractionStart else { throw error("expected digits after '.'") }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            let exponentStart = index
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            guard index > exponentStart else { throw error("expected digits in the exponent") }
        }
        guard let number = Number(String(decoding: bytes[start..<index], as: UTF8.self)) else { throw error("number out of range") }
        return number
    }

    /// The rest of a string after its opening quote.
    mutating func string() throws(RegoError) -> String {
        var out: [UInt8] = []
        while true {
            guard index < bytes.count else { throw error("unterminated string") }
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard index < bytes.count else { throw error("unterminated string") }
                let escaped = bytes[index]
                index += 1
                switch escaped {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escaped)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800..<0xDC00).contains(scalar), index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"),
                        bytes[index + 1] == UInt8(ascii: "u")
                    {
                        index += 2
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw error("invalid surrogate pair") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let unicode = UnicodeScalar(scalar) else { throw error("invalid unicode escape") }
                    out.append(contentsOf: Array(String(Character(unicode)).utf8))
                default:
                    throw error("invalid escape in string")
                }
            case 0x00..<0x20:
                throw error("control character in string")
            default:
                out.append(byte)
            }
        }
    }

    mutating func hex4() throws(RegoError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw error("invalid unicode escape") }
        var value: UInt32 = 0
        for byte in bytes[index..<index + 4] {
            guard let digit = UInt8(String(UnicodeScalar(byte)), radix: 16) else { throw error("invalid unicode escape") }
            value = value * 16 + UInt32(digit)
        }
        index += 4
        return value
    }
}
