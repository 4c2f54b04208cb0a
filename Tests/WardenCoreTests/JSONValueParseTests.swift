import Foundation
import Testing

@testable import WardenCore

/// The hand-written JSON reader that the decision path uses for request bodies.
@Suite struct JSONValueParseTests {
    @Test(arguments: [
        #"{"b":1,"a":[true,false,null],"c":{"z":"x","y":-2.5}}"#,
        #"{"quote":"say \"hi\"","slash":"a\\b\/c","lines":"one\ntwo\r\tthree","bell":"\u0007","bf":"\b\f","unicode":"h\u00e9llo ✓ \ud83d\ude00"}"#,
        #"[1e300,-0.000001,9223372036854775807,-9223372036854775808,9223372036854775808,0.1,19.99,-0,0,1E+2,2.5e-3]"#,
        " \n\t[ 1 , { \"a\" : [ ] } , \"\" ]\r\n ",
        #""just a string""#, "true", "null", "-12", "{}", "[]",
    ])
    func readsWhatFoundationReads(_ text: String) throws {
        let mine = try JSONValue.parse(strict: text)
        let foundation = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        #expect(mine == foundation, "\(text)")
        #expect(try JSONValue.parse(strict: mine.canonicalText) == mine)
    }

    @Test func numbersKeepIntegersExactAndReadWholeDoublesAsIntegers() throws {
        #expect(try JSONValue.parse(strict: "9223372036854775807") == .int(.max))
        #expect(try JSONValue.parse(strict: "-9223372036854775808") == .int(.min))
        #expect(try JSONValue.parse(strict: "9223372036854775808") == .double(9_223_372_036_854_775_808))
        #expect(try JSONValue.parse(strict: "1.0") == .int(1))
        #expect(try JSONValue.parse(strict: "1e2") == .int(100))
        #expect(try JSONValue.parse(strict: "19.99") == .double(19.99))
        #expect(try JSONValue.parse(strict: "-0.5") == .double(-0.5))
    }

    @Test(arguments: [
        ("", 1, 1, "unexpected end of input"),
        ("[1,]", 1, 4, "unexpected character ']'"),
        ("{\"a\":1,}", 1, 8, "expected a string key in an object"),
        ("{\"a\":1,\n \"a\":2}", 2, 2, "duplicate key 'a' in an object"),
        ("01", 1, 1, "invalid number (leading zero)"),
        ("1.", 1, 1, "invalid number (digits must follow '.')"),
        ("1e", 1, 1, "invalid number (digits must follow the exponent)"),
        ("2e308", 1, 1, "number out of range"),
        ("\"a\u{1}\"", 1, 3, "control character in a string (escape it)"),
        (#""\ud800""#, 1, 2, "lone surrogate in a \\u escape"),
        (#""\udc00x""#, 1, 2, "lone surrogate in a \\u escape"),
        (#""\x""#, 1, 2, "invalid escape '\\x' in a string"),
        (#"["\u00zz"]"#, 1, 3, "a \\u escape needs four hex digits"),
        (#""\u12""#, 1, 2, "a \\u escape needs four hex digits"),
        ("\"abc", 1, 1, "unterminated string"),
        ("tru", 1, 1, "invalid literal"),
        ("nul!", 1, 1, "invalid literal"),
        ("{} x", 1, 4, "unexpected text after the JSON value"),
        ("// comment\n1", 1, 1, "unexpected character '/'"),
        ("{\"a\" 1}", 1, 6, "expected ':' after an object key"),
        ("[1 2]", 1, 4, "expected ',' or ']' in an array"),
    ])
    func refusesWhatIsNotJSONAndSaysWhere(_ text: String, _ line: Int, _ column: Int, _ message: String) {
        #expect(throws: JSONParseError(line: line, column: column, message: message)) { try JSONValue.parse(strict: text) }
    }

    @Test func refusesInvalidUTF8() throws {
        func parse(_ bytes: [UInt8]) -> Result<JSONValue, JSONParseError> {
            bytes.withUnsafeBytes { buffer in Result { () throws(JSONParseError) in try JSONValue.parse(bytes: buffer) } }
        }
        // "a\xC3(" : a broken two-byte sequence, on the fast path and on the escape path.
        #expect(throws: JSONParseError(line: 1, column: 1, message: "invalid UTF-8 in a string")) {
            try parse([0x22, 0x61, 0xC3, 0x28, 0x22]).get()
        }
        #expect(throws: JSONParseError(line: 1, column: 1, message: "invalid UTF-8 in a string")) {
            try parse([0x22, 0x5C, 0x6E, 0xFF, 0x22]).get()
        }
        #expect(try parse(Array(#""caf\u00e9 é""#.utf8)).get() == .string("café é"))
    }

    @Test func refusesNestingBeyondTheLimitWithoutCrashing() throws {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONParseError.self) { try JSONValue.parse(strict: deep) }
        let limit = JSONValue.maxParseDepth
        let fits = String(repeating: "[", count: limit) + String(repeating: "]", count: limit)
        #expect(try JSONValue.parse(strict: fits).depth == limit)
    }

    @Test func randomDocumentsReadBackFromTheirCanonicalText() throws {
        var generator = SystemRandomNumberGenerator()
        func random(_ depth: Int) -> JSONValue {
            switch Int.random(in: 0..<(depth > 3 ? 5 : 7), using: &generator) {
            case 0: return .null
            case 1: return .bool(Bool.random(using: &generator))
            case 2: return .int(Int64.random(in: .min ... .max, using: &generator))
            case 3: return .double(Double.random(in: -1e6...1e6, using: &generator))
            case 4:
                let scalars = (0..<Int.random(in: 0..<8, using: &generator)).map { _ in
                    ["a", "\"", "\\", "\n", "\u{1}", "é", "😀", "/", " "].randomElement(using: &generator)!
                }
                return .string(scalars.joined())
            case 5: return .array((0..<Int.random(in: 0..<4, using: &generator)).map { _ in random(depth + 1) })
            default:
                var fields: [String: JSONValue] = [:]
                for index in 0..<Int.random(in: 0..<4, using: &generator) { fields["k\(index)\u{e9}"] = random(depth + 1) }
                return .object(fields)
            }
        }
        for _ in 0..<2_000 {
            let value = random(0)
            let parsed = try JSONValue.parse(strict: value.canonicalText)
            // A double that is a whole number reads back as an integer, like Foundation's decoder.
            #expect(parsed.canonicalText == JSONValue.parse(parsed.canonicalText)?.canonicalText)
            #expect(try JSONDecoder().decode(JSONValue.self, from: Data(value.canonicalText.utf8)) == parsed, "\(value.canonicalText)")
        }
    }
}
