import Foundation
import Testing

@testable import Rego

@Suite struct NumberTests {
    @Test func equalNumbersAreEqualWhateverTheirText() throws {
        #expect(Number("2.0") == Number(2))
        #expect(Number("2.0")?.intValue == 2, "integral decimals normalise to ints")
        #expect(Number("0.30") == Number("0.3"))
        #expect(Number("1e2") == Number(100))
        #expect(Set([Number("0.5")!, Number("5e-1")!, Number("0.50")!]).count == 1)
        #expect(Set([Number("3")!, Number("3.0")!]).count == 1)
    }

    @Test func exactBeyondDoubles() throws {
        let big = try #require(Number("12345678901234567890"))
        #expect(big.description == "12345678901234567890")
        #expect(big != Number("12345678901234567891"), "a double could not tell these apart")
        #expect(Number("0.1")!.description == "0.1")
        #expect(Number("1e300")?.doubleValue == 1e300)
    }

    @Test func ordersNumerically() throws {
        let texts = ["-1.5", "-1", "0", "1e-3", "0.5", "1", "2.5", "10", "12345678901234567890", "1e300"]
        let numbers = texts.compactMap(Number.init)
        #expect(numbers.count == texts.count)
        #expect(numbers == numbers.sorted())
        #expect(numbers.shuffled().sorted() == numbers)
    }

    @Test(arguments: ["", "abc", "1.2.3", "--1", "1e", "nan", "inf"])
    func rejectsNonNumbers(_ text: String) {
        #expect(Number(text) == nil)
    }
}

@Suite struct ValueOrderTests {
    @Test func kindsOrderAsOPAOrdersThem() {
        let ordered: [Value] = [
            .null, .bool(false), .bool(true), .int(-1), .int(2), .string(""), .string("a"), .string("b"), .array([]), .array([.int(1)]),
            .set([]), .set([.int(1)]), .object([:]), .object([.string("a"): .int(1)]),
        ]
        #expect(ordered.shuffled().sorted() == ordered)
    }

    @Test func compositeOrder() {
        #expect(Value.array([.int(1), .int(2)]) < Value.array([.int(1), .int(3)]))
        #expect(Value.array([.int(1)]) < Value.array([.int(1), .int(0)]), "a prefix sorts first")
        #expect(Value.object([.string("a"): .int(1)]) < Value.object([.string("a"): .int(2)]))
        #expect(Value.object([.string("a"): .int(9)]) < Value.object([.string("b"): .int(0)]))
        #expect(Value.set([.int(3), .int(1)]) == Value.set([.int(1), .int(3)]))
    }
}

@Suite struct JSONTests {
    @Test(arguments: [
        #"{"b":[1,2.5,-3e2,true,null],"a":{"x":"y\n\"z\""},"c":"é😀"}"#,
        #"[]"#, #"{}"#, #""\u0041\ud83d\ude00""#, #"12345678901234567890"#, #"-0.000001"#,
    ])
    func roundTrips(_ text: String) throws {
        let value = try Value.parseJSON(text)
        let written = value.jsonText
        #expect(try Value.parseJSON(written) == value, "\(written)")
        // Foundation reads what we write.
        #expect((try? JSONSerialization.jsonObject(with: Data(written.utf8), options: [.fragmentsAllowed])) != nil, "\(written)")
    }

    @Test func writesSortedKeysAndSetsAsSortedArrays() throws {
        let value = Value.object([.string("b"): .set([.int(3), .int(1), .int(2)]), .string("a"): .null])
        #expect(value.jsonText == #"{"a":null,"b":[1,2,3]}"#)
        #expect(Value.object([.int(1): .bool(true)]).jsonText == #"{"1":true}"#)
    }

    @Test(arguments: [
        ("{", "expected a string key"), ("[1,]", "unexpected character"), (#"{"a" 1}"#, "expected ':'"), ("01", "leading zero"),
        (#""\x""#, "invalid escape"), ("[1] 2", "after the JSON value"), ("tru", "unexpected character"), ("1.", "digits after '.'"),
    ])
    func rejectsInvalidJSON(_ text: String, _ message: String) {
        do {
            _ = try Value.parseJSON(text)
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.message.contains(message), "\(error)")
        }
    }

    @Test func boundsDepthAndSize() {
        let deep = String(repeating: "[", count: 300) + String(repeating: "]", count: 300)
        #expect(throws: RegoError.self) { try Value.parseJSON(deep, maxDepth: 200) }
        #expect(throws: RegoError.self) { try Value.parseJSON("[1,2,3]", maxBytes: 3) }
        #expect(throws: Never.self) { try Value.parseJSON(String(repeating: "[", count: 50) + String(repeating: "]", count: 50)) }
    }
}
