public import Foundation

extension UUID {
    /// A version 7 UUID (RFC 9562): 48 bits of Unix milliseconds, then 74 random bits. Ids made
    /// later sort later, which keeps the decision log's index appends local, and making one costs
    /// two reads of the system's random generator instead of Foundation's slower `UUID()`.
    public static func v7(at date: Date = Date()) -> UUID {
        var generator = SystemRandomNumberGenerator()
        let high = generator.next() as UInt64
        let low = generator.next() as UInt64
        let millis = UInt64(max(0, date.timeIntervalSince1970 * 1000))
        func byte(_ value: UInt64, _ shift: UInt64) -> UInt8 { UInt8(truncatingIfNeeded: value >> shift) }
        return UUID(
            uuid: (
                byte(millis, 40), byte(millis, 32), byte(millis, 24), byte(millis, 16), byte(millis, 8), byte(millis, 0),
                0x70 | byte(high, 60),  // version 7
                byte(high, 52),
                0x80 | (byte(high, 46) & 0x3F),  // variant 10
                byte(low, 56), byte(low, 48), byte(low, 40), byte(low, 32), byte(low, 24), byte(low, 16), byte(low, 8)
            )
        )
    }
}
