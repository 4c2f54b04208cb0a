public import Foundation

/// Times are stored and sent as RFC 3339 UTC strings with microseconds, fixed width, so that
/// they sort lexically in both databases and read plainly in SQL.
public enum Timestamp {
    public static func format(_ date: Date) -> String {
        let micros = Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
        let seconds = micros >= 0 ? micros / 1_000_000 : (micros - 999_999) / 1_000_000
        let fraction = micros - seconds * 1_000_000
        let comps = Calendar.utc.dateComponents(
            [.year, .month, .day, .hour, .minute, .second],
            from: Date(timeIntervalSince1970: TimeInterval(seconds))
        )
        return "\(pad(comps.year!, 4))-\(pad(comps.month!, 2))-\(pad(comps.day!, 2))T"
            + "\(pad(comps.hour!, 2)):\(pad(comps.minute!, 2)):\(pad(comps.second!, 2)).\(pad(Int(fraction), 6))Z"
    }

    /// `date` rounded to whole microseconds, as stored.
    public static func truncated(_ date: Date) -> Date {
        parse(format(date)) ?? date
    }

    /// Parses RFC 3339 text. The fraction is read digit by digit (up to microseconds), so
    /// `parse(format(d))` formats back to the same text.
    public static func parse(_ text: String) -> Date? {
        guard text.utf8.count <= 64 else { return nil }
        var whole = text
        var fraction = 0.0
        if let dot = text.firstIndex(of: ".") {
            let afterDot = text[text.index(after: dot)...]
            let digits = afterDot.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty, let micros = Int(digits.prefix(6).padding(toLength: 6, withPad: "0", startingAt: 0)) else { return nil }
            fraction = Double(micros) / 1_000_000
            whole = String(text[..<dot]) + String(afterDot.dropFirst(digits.count))
        }
        guard let seconds = try? Date.ISO8601FormatStyle().parse(whole) else { return nil }
        return Date(timeIntervalSince1970: (seconds.timeIntervalSince1970 + fraction))
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}

extension Calendar {
    fileprivate static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()
}
