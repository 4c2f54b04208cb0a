import Foundation
import Testing

@testable import WardenCore

@Suite struct JSONValueTests {
    @Test(arguments: [
        #"{"b":1,"a":[true,false,null],"c":{"z":"x","y":-2.5}}"#,
        #"{"quote":"say \"hi\"","slash":"a\\b","lines":"one\ntwo\r\tthree","bell":"\u0007","unicode":"héllo ✓ 😀"}"#,
        #"[1e300,-0.000001,9223372036854775807,-9223372036854775808,0.1,19.99]"#,
        #""just a string""#,
        #"{}"#,
    ])
    func canonicalTextReadsBackEqualWithSortedKeys(_ text: String) throws {
        let value = try #require(JSONValue.parse(text))
        let canonical = value.canonicalText
        #expect(JSONValue.parse(canonical) == value, "\(canonical)")
        // Foundation agrees it is JSON.
        #expect((try? JSONSerialization.jsonObject(with: Data(canonical.utf8), options: [.fragmentsAllowed])) != nil, "\(canonical)")
    }

    @Test func keysAreSortedAndOutputIsCompact() {
        let value = JSONValue.object(["b": .int(1), "a": .array([.bool(true), .null]), "c": .string("x\u{1}")])
        #expect(value.canonicalText == #"{"a":[true,null],"b":1,"c":"x\u0001"}"#)
    }

    @Test func depthCountsNesting() {
        #expect(JSONValue.int(1).depth == 0)
        #expect(JSONValue.parse("[[[]]]")?.depth == 3)
        #expect(JSONValue.parse(#"{"a":{"b":[1]}}"#)?.depth == 3)
    }
}

@Suite struct UUIDv7Tests {
    @Test func versionVariantTimeOrderAndUniqueness() {
        let base = Date(timeIntervalSince1970: 1_800_000_000)
        let ids = (0..<1_000).map { UUID.v7(at: base.addingTimeInterval(Double($0) / 100)) }
        #expect(Set(ids).count == ids.count)
        for id in ids {
            let text = id.uuidString.lowercased()
            let characters = Array(text)
            #expect(characters[14] == "7", "version nibble in \(text)")
            #expect("89ab".contains(characters[19]), "variant in \(text)")
        }
        // Ids from later milliseconds sort later as text.
        let texts = ids.map { $0.uuidString.lowercased() }
        let everyTenth = stride(from: 0, to: texts.count, by: 10).map { texts[$0] }
        #expect(everyTenth == everyTenth.sorted(), "ids 100 ms apart sort in time order")
        // 1_800_000_000_000 ms = 0x01A3185C5000.
        #expect(texts.first!.hasPrefix("01a3185c-5000-7"), "48-bit milliseconds prefix: \(texts.first!)")
    }

    /// Canonical text is a fixed point: parsed and written again it is the same text, doubles
    /// included (a whole-number double is written as an integer), so digests of bodies hold when an
    /// export or a provenance manifest carries them as JSON.
    @Test(arguments: [4.0, -0.0, 2.5, 1e300, 0.1, -7.0, 123_456_789.0])
    func canonicalTextOfDoublesReadsBackAsTheSameText(_ number: Double) throws {
        let value = JSONValue.object(["cost": .double(number), "list": .array([.double(number)])])
        let text = value.canonicalText
        let again = try #require(JSONValue.parse(text)).canonicalText
        #expect(again == text, "\(number): \(text) became \(again)")
    }
}
