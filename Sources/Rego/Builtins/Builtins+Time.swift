import Foundation
import Synchronization

/// Time builtins with Go's layouts and IANA time zones, as OPA has them: `time.date`, `time.clock`,
/// `time.weekday` (each on `ns` or `[ns, zone]`), `time.format`, `time.parse_ns`, `time.diff`.
extension Builtins {
    static let time: [String: Builtin] = [
        "time.date": unary { value in
            let local = try GoTime.Instant(value)
            return .array([.int(local.year), .int(local.month), .int(local.day)])
        },
        "time.clock": unary { value in
            let local = try GoTime.Instant(value)
            return .array([.int(local.hour), .int(local.minute), .int(local.second)])
        },
        "time.weekday": unary { value in
            .string(GoTime.longDays[try GoTime.Instant(value).weekday])
        },
        "time.format": unary { value in
            var layout = GoTime.layouts["RFC3339Nano"]!
            if case .array(let items) = value, items.count == 3 {
                let name = try string(items[2], 1)
                layout = GoTime.layouts[name] ?? name
            }
            return .string(GoTime.format(try GoTime.Instant(value), layout: layout))
        },
        "time.parse_ns": binary { layoutValue, textValue in
            let name = try string(layoutValue, 1)
            let text = try string(textValue, 2)
            return .int(try GoTime.parse(text, layout: GoTime.layouts[name] ?? name))
        },
        "time.parse_rfc3339_ns": unary { value in
            .int(try GoTime.parse(try string(value, 1), layout: GoTime.layouts["RFC3339"]!))
        },
        "time.diff": binary { first, second in
            var a = try GoTime.Instant(first)
            var b = try GoTime.Instant(second)
            // Both in the first one's zone, the earlier first.
            b = GoTime.Instant(nanoseconds: b.nanoseconds, zone: a.zone)
            if a.nanoseconds > b.nanoseconds { swap(&a, &b) }
            var year = b.year - a.year
            var month = b.month - a.month
            var day = b.day - a.day
            var hour = b.hour - a.hour
            var minute = b.minute - a.minute
            var second = b.second - a.second
            if second < 0 {
                second += 60
                minute -= 1
            }
            if minute < 0 {
                minute += 60
                hour -= 1
            }
            if hour < 0 {
                hour += 24
                day -= 1
            }
            if day < 0 {
                day += GoTime.daysIn(month: a.month, year: a.year)
                month -= 1
            }
            if month < 0 {
                month += 12
                year -= 1
            }
            return .array([.int(year), .int(month), .int(day), .int(hour), .int(minute), .int(second)])
        },
    ]
}

enum GoTime {
    static let layouts: [String: String] = [
        "ANSIC": "Mon Jan _2 15:04:05 2006", "UnixDate": "Mon Jan _2 15:04:05 MST 2006", "RubyDate": "Mon Jan 02 15:04:05 -0700 2006",
        "RFC822": "02 Jan 06 15:04 MST", "RFC822Z": "02 Jan 06 15:04 -0700", "RFC850": "Monday, 02-Jan-06 15:04:05 MST",
        "RFC1123": "Mon, 02 Jan 2006 15:04:05 MST", "RFC1123Z": "Mon, 02 Jan 2006 15:04:05 -0700", "RFC3339": "2006-01-02T15:04:05Z07:00",
        "RFC3339Nano": "2006-01-02T15:04:05.999999999Z07:00",
    ]  // OPA names these ten; any other name is a layout of its own (`"Kitchen"` formats as itself)
    static let longDays = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
    static let longMonths = [
        "January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December",
    ]

    /// A zone: UTC, or an IANA zone from the system's tz database.
    struct Zone: Equatable {
        var timeZone: TimeZone?

        static let utc = Zone(timeZone: nil)

        init(timeZone: TimeZone?) { self.timeZone = timeZone }

        init(named name: String) throws {
            if name.isEmpty || name == "UTC" {
                timeZone = nil
            } else if name == "Local" {
                timeZone = TimeZone.current
            } else if let zone = TimeZone(identifier: name) {
                timeZone = zone
            } else {
                throw BuiltinError.failed("unknown time zone \(name)")
            }
        }

        func offset(atSecond second: Int) -> Int {
            guard let timeZone else { return 0 }
            return timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(second)))
        }

        /// The zone's own abbreviation (`EST`, `IST`, `CET`) from the tz database, as Go prints
        /// it; empty when the database has none for the offset (Go then prints `-0700`).
        func abbreviation(atSecond second: Int) -> String {
            guard let timeZone else { return "UTC" }
            let date = Date(timeIntervalSince1970: TimeInterval(second))
            let key = TZif.Key(offset: timeZone.secondsFromGMT(for: date), daylight: timeZone.isDaylightSavingTime(for: date))
            return TZif.abbreviations(timeZone.identifier)[key] ?? ""
        }
    }

    /// Abbreviations by (offset, daylight) from a zone's TZif file, the latest use winning.
    enum TZif {
        struct Key: Hashable {
            var offset: Int
            var daylight: Bool
        }

        static let cache = Mutex<[String: [Key: String]]>([:])

        static func abbreviations(_ identifier: String) -> [Key: String] {
            if let known = cache.withLock({ $0[identifier] }) { return known }
            var result: [Key: String] = [:]
            let directory = ProcessInfo.processInfo.environment["ZONEINFO"] ?? "/usr/share/zoneinfo"
            if !identifier.contains(".."), let data = FileManager.default.contents(atPath: directory + "/" + identifier) {
                result = read(Array(data))
            }
            cache.withLock { $0[identifier] = result }
            return result
        }

        static func read(_ bytes: [UInt8]) -> [Key: String] {
            func count(_ at: Int) -> Int {
                guard at + 4 <= bytes.count else { return 0 }
                return bytes[at..<(at + 4)].reduce(0) { $0 << 8 | Int($1) }
            }
            guard bytes.count >= 44, bytes[0..<4].elementsEqual("TZif".utf8) else { return [:] }
            // The version 1 block, then (version 2 and later) the 64-bit block, which is the one read.
            var header = 0
            var timeSize = 4
            if bytes[4] >= 0x32 {
                let skip = 44 + count(32) * 5 + count(36) * 6 + count(40) + count(28) * 8 + count(24) + count(20)
                guard skip + 44 <= bytes.count else { return [:] }
                header = skip
                timeSize = 8
            }
            let leaps = count(header + 28)
            let times = count(header + 32)
            let types = count(header + 36)
            let chars = count(header + 40)
            let indices = header + 44 + times * timeSize
            let infos = indices + times
            let names = infos + types * 6
            guard names + chars <= bytes.count, leaps >= 0 else { return [:] }
            func info(_ index: Int) -> (Key, String)? {
                guard index < types else { return nil }
                let at = infos + index * 6
                let offset = Int(Int32(bitPattern: UInt32(count(at))))
                let start = names + Int(bytes[at + 5])
                guard start < names + chars else { return nil }
                let end = bytes[start..<(names + chars)].firstIndex(of: 0) ?? (names + chars)
                return (Key(offset: offset, daylight: bytes[at + 4] != 0), String(decoding: bytes[start..<end], as: UTF8.self))
            }
            var result: [Key: String] = [:]
            for index in 0..<types { if let (key, name) = info(index), result[key] == nil { result[key] = name } }
            for transition in 0..<times { if let (key, name) = info(Int(bytes[indices + transition])) { result[key] = name } }
            return result
        }
    }

    /// An instant with its civil fields in a zone.
    struct Instant {
        var nanoseconds: Int
        var zone: Zone
        var offset = 0
        var year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, weekday = 0, yearDay = 0

        /// `ns` or `[ns, zone]` or `[ns, zone, layout]`.
        init(_ value: Value) throws {
            var zone = Zone.utc
            let number: Value
            switch value {
            case .number: number = value
            case .array(let items) where items.count == 2 || items.count == 3:
                number = items[0]
                zone = try Zone(named: try Builtins.string(items[1], 1))
            default: throw BuiltinError.operand(1, "one of {number, array}", value)
            }
            guard case .number(let amount) = number else { throw BuiltinError.operand(1, "a number", number) }
            let nanoseconds: Int
            if let exact = amount.intValue {
                nanoseconds = exact
            } else {
                let double = amount.doubleValue
                guard double.magnitude < 9.223_372_036_854_775e18 else { throw BuiltinError.failed("timestamp too big") }
                nanoseconds = Int(double)
            }
            self.init(nanoseconds: nanoseconds, zone: zone)
        }

        init(nanoseconds: Int, zone: Zone) {
            self.nanoseconds = nanoseconds
            self.zone = zone
            let utcSeconds = nanoseconds.floorDivided(by: 1_000_000_000)
            offset = zone.offset(atSecond: utcSeconds)
            let seconds = utcSeconds + offset
            let days = seconds.floorDivided(by: 86_400)
            let secondOfDay = seconds.floorModulo(86_400)
            (year, month, day) = Builtins.civil(days)
            hour = secondOfDay / 3600
            minute = secondOfDay % 3600 / 60
            second = secondOfDay % 60
            weekday = (days + 4).floorModulo(7)
            yearDay = days - Builtins.daysFrom(year, 1, 1) + 1
        }

        var fraction: Int { nanoseconds.floorModulo(1_000_000_000) }
    }

    static func daysIn(month: Int, year: Int) -> Int {
        let next = month == 12 ? Builtins.daysFrom(year + 1, 1, 1) : Builtins.daysFrom(year, month + 1, 1)
        return next - Builtins.daysFrom(year, month, 1)
    }

    // MARK: Layout elements

    enum Element: Equatable {
        case literal(String)
        case longMonth, month, numMonth, zeroMonth, longWeekDay, weekDay
        case day, underDay, zeroDay, underYearDay, zeroYearDay
        case hour, hour12, zeroHour12, minute, zeroMinute, second, zeroSecond
        case longYear, year, pm, lowerPM, zoneName
        /// `-0700` style offsets: colon, seconds, hours only; `iso` writes `Z` for UTC.
        case numericZone(iso: Bool, colon: Bool, seconds: Bool, hoursOnly: Bool)
        /// `.000` (fixed digits) or `.999` (trailing zeros dropped), with `.` or `,`.
        case fraction(digits: Int, fixed: Bool, separator: Character)
    }

    /// Splits a layout into literals and elements, as Go's `nextStdChunk` does.
    static func elements(_ layout: String) -> [Element] {
        let chars = Array(layout)
        var result: [Element] = []
        var literal = ""
        var i = 0
        func has(_ text: String, at index: Int) -> Bool {
            let pattern = Array(text)
            return index + pattern.count <= chars.count && Array(chars[index..<(index + pattern.count)]) == pattern
        }
        func startsWithLower(_ index: Int) -> Bool { index < chars.count && chars[index].isLowercase && chars[index].isASCII }
        /// The element starting at `i` and its length in the layout, if one does.
        func element(at i: Int) -> (Element, Int)? {
            let c = chars[i]
            switch c {
            case "J" where has("January", at: i): return (.longMonth, 7)
            case "J" where has("Jan", at: i) && !startsWithLower(i + 3): return (.month, 3)
            case "M" where has("Monday", at: i): return (.longWeekDay, 6)
            case "M" where has("Mon", at: i) && !startsWithLower(i + 3): return (.weekDay, 3)
            case "M" where has("MST", at: i): return (.zoneName, 3)
            case "0" where i + 1 < chars.count && ("1"..."6").contains(chars[i + 1]):
                let map: [Character: Element] = ["1": .zeroMonth, "2": .zeroDay, "3": .zeroHour12, "4": .zeroMinute, "5": .zeroSecond, "6": .year]
                return (map[chars[i + 1]]!, 2)
            case "0" where has("002", at: i): return (.zeroYearDay, 3)
            case "1" where has("15", at: i): return (.hour, 2)
            case "1": return (.numMonth, 1)
            case "2" where has("2006", at: i): return (.longYear, 4)
            case "2": return (.day, 1)
            case "_" where has("_2", at: i) && !has("_2006", at: i): return (.underDay, 2)  // `_2006`: a literal `_`, then the year
            case "_" where has("__2", at: i): return (.underYearDay, 3)
            case "3": return (.hour12, 1)
            case "4": return (.minute, 1)
            case "5": return (.second, 1)
            case "P" where has("PM", at: i): return (.pm, 2)
            case "p" where has("pm", at: i): return (.lowerPM, 2)
            case "-", "Z":
                let forms: [(String, Bool, Bool, Bool)] = [
                    ("070000", false, true, false), ("07:00:00", true, true, false), ("0700", false, false, false),
                    ("07:00", true, false, false), ("07", false, false, true),
                ]
                guard let form = forms.first(where: { has(String(c) + $0.0, at: i) }) else { return nil }
                return (.numericZone(iso: c == "Z", colon: form.1, seconds: form.2, hoursOnly: form.3), form.0.count + 1)
            case ".", ",":
                guard i + 1 < chars.count, chars[i + 1] == "0" || chars[i + 1] == "9" else { return nil }
                let digit = chars[i + 1]
                var j = i + 1
                while j < chars.count, chars[j] == digit { j += 1 }
                if j < chars.count && chars[j].isASCII && chars[j].isNumber { return nil }
                return (.fraction(digits: j - i - 1, fixed: digit == "0", separator: c), j - i)
            default:
                return nil
            }
        }
        while i < chars.count {
            if let (found, length) = element(at: i) {
                if !literal.isEmpty { result.append(.literal(literal)) }
                literal = ""
                result.append(found)
                i += length
            } else {
                literal.append(chars[i])
                i += 1
            }
        }
        if !literal.isEmpty { result.append(.literal(literal)) }
        return result
    }

    // MARK: Formatting

    static func padded(_ value: Int, _ width: Int, _ pad: Character = "0") -> String {
        let digits = String(value.magnitude)
        let padding = String(repeating: pad, count: max(0, width - digits.count))
        return (value < 0 ? "-" : "") + padding + digits
    }

    static func format(_ t: Instant, layout: String) -> String {
        var out = ""
        for element in elements(layout) {
            switch element {
            case .literal(let text): out += text
            case .longMonth: out += longMonths[t.month - 1]
            case .month: out += String(longMonths[t.month - 1].prefix(3))
            case .numMonth: out += String(t.month)
            case .zeroMonth: out += padded(t.month, 2)
            case .longWeekDay: out += longDays[t.weekday]
            case .weekDay: out += String(longDays[t.weekday].prefix(3))
            case .day: out += String(t.day)
            case .underDay: out += padded(t.day, 2, " ")
            case .zeroDay: out += padded(t.day, 2)
            case .underYearDay: out += padded(t.yearDay, 3, " ")
            case .zeroYearDay: out += padded(t.yearDay, 3)
            case .hour: out += padded(t.hour, 2)
            case .hour12: out += String(t.hour % 12 == 0 ? 12 : t.hour % 12)
            case .zeroHour12: out += padded(t.hour % 12 == 0 ? 12 : t.hour % 12, 2)
            case .minute: out += String(t.minute)
            case .zeroMinute: out += padded(t.minute, 2)
            case .second: out += String(t.second)
            case .zeroSecond: out += padded(t.second, 2)
            case .longYear: out += padded(t.year, 4)
            case .year: out += padded(t.year.floorModulo(100), 2)
            case .pm: out += t.hour >= 12 ? "PM" : "AM"
            case .lowerPM: out += t.hour >= 12 ? "pm" : "am"
            case .zoneName:
                let name = t.zone.abbreviation(atSecond: t.nanoseconds.floorDivided(by: 1_000_000_000))
                if !name.isEmpty {
                    out += name
                } else {
                    let minutes = t.offset / 60
                    out += (minutes < 0 ? "-" : "+") + padded(abs(minutes) / 60, 2) + padded(abs(minutes) % 60, 2)
                }
            case .numericZone(let iso, let colon, let seconds, let hoursOnly):
                if iso && t.offset == 0 {
                    out += "Z"
                    continue
                }
                let total = abs(t.offset)
                out += (t.offset < 0 ? "-" : "+") + padded(total / 3600, 2)
                if !hoursOnly {
                    out += (colon ? ":" : "") + padded(total % 3600 / 60, 2)
                }
                if seconds { out += (colon ? ":" : "") + padded(total % 60, 2) }
            case .fraction(let digits, let fixed, let separator):
                var text = padded(t.fraction, 9).prefix(digits)
                if !fixed {
                    while text.last == "0" { text = text.dropLast() }
                    if text.isEmpty { continue }
                }
                out += String(separator) + text
            }
        }
        return out
    }

    // MARK: Parsing

    /// Go's `time.Parse`: nanoseconds since 1970, or an error in Go's words.
    static func parse(_ text: String, layout: String) throws -> Int {
        var value = Substring(text)
        func failure(_ element: String, _ rest: Substring) -> BuiltinError {
            BuiltinError.failed(
                "parsing time \(Value.string(text).jsonText) as \(Value.string(layout).jsonText): cannot parse \(Value.string(String(rest)).jsonText) as \(Value.string(element).jsonText)"
            )
        }
        func range(_ what: String) -> BuiltinError {
            BuiltinError.failed("parsing time \(Value.string(text).jsonText): \(what) out of range")
        }
        func number(_ minimum: Int, _ maximum: Int, _ name: String) throws -> Int {
            let digits = value.prefix { $0.isASCII && $0.isNumber }
            guard digits.count >= minimum else { throw failure(name, value) }
            let used = digits.prefix(maximum)
            value = value.dropFirst(used.count)
            return Int(used)!
        }
        func name(_ names: [String], _ length: Int?, _ element: String) throws -> Int {
            for (index, full) in names.enumerated() {
                let candidate = length.map { String(full.prefix($0)) } ?? full
                if value.lowercased().hasPrefix(candidate.lowercased()) {
                    value = value.dropFirst(candidate.count)
                    return index
                }
            }
            throw failure(element, value)
        }
        // Go's defaults: year 0 (out of the nanosecond range), January, day 1.
        var year = 0
        var month = 1
        var day = 1
        var hour = 0
        var minute = 0
        var second = 0
        var nanos = 0
        var yearDay = -1
        var pm: Bool?
        var offset: Int?
        let parts = elements(layout)
        for (index, element) in parts.enumerated() {
            switch element {
            case .literal(let literal):
                // Go lets runs of spaces in the layout and value differ in length.
                var expected = Substring(literal)
                while let first = expected.first {
                    if first == " " {
                        guard value.first == " " else { throw failure(literal, value) }
                        while expected.first == " " { expected = expected.dropFirst() }
                        while value.first == " " { value = value.dropFirst() }
                        continue
                    }
                    guard value.first == first else { throw failure(literal, value) }
                    expected = expected.dropFirst()
                    value = value.dropFirst()
                }
            case .longYear:
                guard value.count >= 4, value.prefix(4).allSatisfy({ $0.isASCII && $0.isNumber }) else { throw failure("2006", value) }
                year = Int(value.prefix(4))!
                value = value.dropFirst(4)
            case .year:
                guard value.count >= 2, value.prefix(2).allSatisfy({ $0.isASCII && $0.isNumber }) else { throw failure("06", value) }
                let short = Int(value.prefix(2))!
                year = short + (short >= 69 ? 1900 : 2000)
                value = value.dropFirst(2)
            case .longMonth: month = try name(longMonths, nil, "January") + 1
            case .month: month = try name(longMonths, 3, "Jan") + 1
            case .numMonth, .zeroMonth:
                month = try number(element == .zeroMonth ? 2 : 1, 2, element == .zeroMonth ? "01" : "1")
                guard (1...12).contains(month) else { throw range("month") }
            case .longWeekDay: _ = try name(longDays, nil, "Monday")
            case .weekDay: _ = try name(longDays, 3, "Mon")
            case .day, .underDay, .zeroDay:
                if element == .underDay, value.first == " " { value = value.dropFirst() }
                day = try number(element == .zeroDay ? 2 : 1, 2, element == .zeroDay ? "02" : element == .day ? "2" : "_2")
            case .underYearDay, .zeroYearDay:
                if element == .underYearDay { while value.first == " " { value = value.dropFirst() } }
                yearDay = try number(element == .zeroYearDay ? 3 : 1, 3, "002")
                guard (1...366).contains(yearDay) else { throw range("day-of-year") }
            case .hour:
                hour = try number(2, 2, "15")
                guard hour < 24 else { throw range("hour") }
            case .hour12, .zeroHour12:
                hour = try number(element == .zeroHour12 ? 2 : 1, 2, element == .zeroHour12 ? "03" : "3")
                guard hour <= 12 else { throw range("hour") }
            case .minute, .zeroMinute:
                minute = try number(element == .zeroMinute ? 2 : 1, 2, element == .zeroMinute ? "04" : "4")
                guard minute < 60 else { throw range("minute") }
            case .second, .zeroSecond:
                second = try number(element == .zeroSecond ? 2 : 1, 2, element == .zeroSecond ? "05" : "5")
                guard second < 60 else { throw range("second") }
                // A fraction the layout does not name is still read after the seconds.
                let nextIsFraction: Bool = {
                    if index + 1 < parts.count, case .fraction = parts[index + 1] { return true }
                    return false
                }()
                if !nextIsFraction, let separator = value.first, separator == "." || separator == ",", value.dropFirst().first?.isNumber == true {
                    let digits = value.dropFirst().prefix { $0.isASCII && $0.isNumber }
                    nanos = fractionNanoseconds(digits)
                    value = value.dropFirst(1 + digits.count)
                }
            case .pm, .lowerPM:
                let marker = value.prefix(2).uppercased()
                guard marker == "PM" || marker == "AM" else { throw failure(element == .pm ? "PM" : "pm", value) }
                pm = marker == "PM"
                value = value.dropFirst(2)
            case .zoneName:
                if value.hasPrefix("UTC") {
                    value = value.dropFirst(3)
                    offset = 0
                } else {
                    // An abbreviation names no offset of its own: Go records it at offset zero,
                    // except `GMT+h`.
                    guard let (length, hours) = zoneAbbreviation(value) else { throw failure("MST", value) }
                    value = value.dropFirst(length)
                    offset = hours * 3600
                }
            case .numericZone(let iso, let colon, let seconds, let hoursOnly):
                if iso, value.first == "Z" {
                    value = value.dropFirst()
                    offset = 0
                    continue
                }
                guard let sign = value.first, sign == "+" || sign == "-" else { throw failure(iso ? "Z07:00" : "-07:00", value) }
                var rest = value.dropFirst()
                func two() throws -> Int {
                    guard rest.count >= 2, rest.prefix(2).allSatisfy({ $0.isASCII && $0.isNumber }) else { throw failure("-07:00", value) }
                    defer { rest = rest.dropFirst(2) }
                    return Int(rest.prefix(2))!
                }
                let hours = try two()
                var minutes = 0
                var secs = 0
                if !hoursOnly {
                    if colon {
                        guard rest.first == ":" else { throw failure("-07:00", value) }
                        rest = rest.dropFirst()
                    }
                    minutes = try two()
                }
                if seconds {
                    if colon {
                        guard rest.first == ":" else { throw failure("-07:00:00", value) }
                        rest = rest.dropFirst()
                    }
                    secs = try two()
                }
                guard hours <= 24, minutes < 60, secs < 60 else { throw range("time zone offset") }
                offset = (hours * 3600 + minutes * 60 + secs) * (sign == "-" ? -1 : 1)
                value = rest
            case .fraction(let digits, let fixed, _):
                if fixed {
                    guard let separator = value.first, separator == "." || separator == ",",
                        value.dropFirst().prefix(digits).count == digits,
                        value.dropFirst().prefix(digits).allSatisfy({ $0.isASCII && $0.isNumber })
                    else { throw failure("." + String(repeating: "0", count: digits), value) }
                    nanos = fractionNanoseconds(value.dropFirst().prefix(digits))
                    value = value.dropFirst(1 + digits)
                } else if let separator = value.first, separator == "." || separator == "," {
                    let found = value.dropFirst().prefix { $0.isASCII && $0.isNumber }
                    nanos = fractionNanoseconds(found)
                    value = value.dropFirst(1 + found.count)
                }
            }
        }
        guard value.isEmpty else {
            throw BuiltinError.failed("parsing time \(Value.string(text).jsonText): extra text: \(Value.string(String(value)).jsonText)")
        }
        if let pm {
            if pm && hour < 12 { hour += 12 } else if !pm && hour == 12 { hour = 0 }
        }
        if yearDay >= 0 {
            let start = Builtins.daysFrom(year, 1, 1)
            (_, month, day) = Builtins.civil(start + yearDay - 1)
        }
        guard day >= 1, day <= daysIn(month: month, year: year) else { throw range("day") }
        let seconds = Builtins.daysFrom(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - (offset ?? 0)
        guard let result = nanoseconds(seconds: seconds, nanos: nanos) else { throw BuiltinError.failed("time outside of valid range") }
        return result
    }

    /// Go's `parseTimeZone`: the length of a zone abbreviation at the start of `value` and the hours
    /// of a `GMT+h` one; `nil` when there is none.
    static func zoneAbbreviation(_ value: Substring) -> (Int, Int)? {
        let bytes = Array(value.utf8)
        guard bytes.count >= 3 else { return nil }
        if value.hasPrefix("ChST") || value.hasPrefix("MeST") { return (4, 0) }
        func signedHours(_ start: Int) -> (Int, Int)? {
            guard start < bytes.count, bytes[start] == 0x2B || bytes[start] == 0x2D else { return nil }
            var end = start + 1
            var hours = 0
            while end < bytes.count, (0x30...0x39).contains(bytes[end]), hours <= 23 {
                hours = hours * 10 + Int(bytes[end] - 0x30)
                end += 1
            }
            guard end > start + 1, hours <= 23 else { return nil }
            return (end, bytes[start] == 0x2D ? -hours : hours)
        }
        if value.hasPrefix("GMT") {
            // `GMT+h` within ±23 hours reads the offset; otherwise just `GMT`.
            if let (end, hours) = signedHours(3) { return (end, hours) }
            return (3, 0)
        }
        if bytes[0] == 0x2B || bytes[0] == 0x2D {
            guard let (end, _) = signedHours(0) else { return nil }
            return (end, 0)
        }
        let upper = bytes.prefix(6).prefix { (0x41...0x5A).contains($0) }.count
        switch upper {
        case 3: return (3, 0)
        case 4 where bytes[3] == 0x54 || value.hasPrefix("WITA"): return (4, 0)
        case 5 where bytes[4] == 0x54: return (5, 0)
        default: return nil
        }
    }

    static func fractionNanoseconds(_ digits: Substring) -> Int {
        var nanos = 0
        for (index, digit) in digits.prefix(9).enumerated() where index < 9 { nanos = nanos * 10 + digit.wholeNumberValue! }
        for _ in min(digits.count, 9)..<9 { nanos *= 10 }
        return nanos
    }

    /// seconds × 10⁹ + nanos, or `nil` outside Int64 (the extremes themselves are reachable).
    static func nanoseconds(seconds: Int, nanos: Int) -> Int? {
        var seconds = seconds
        var nanos = nanos
        if seconds < 0 && nanos > 0 {
            seconds += 1
            nanos -= 1_000_000_000
        }
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow else { return nil }
        let (total, sumOverflow) = scaled.addingReportingOverflow(nanos)
        return sumOverflow ? nil : total
    }
}
