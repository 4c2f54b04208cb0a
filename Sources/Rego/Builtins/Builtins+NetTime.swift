import Foundation

extension Builtins {
    static let netTime: [String: Builtin] = [
        // Evaluated as a relation by the evaluator; this entry gives its arity.
        "walk": unary { _ in nil },
        "net.cidr_contains": binary { a, b in
            let outer = try cidr(try string(a, 1))
            let text = try string(b, 2)
            let inner = text.contains("/") ? try cidr(text) : try cidr(text + (text.contains(":") ? "/128" : "/32"))
            return .bool(outer.contains(inner))
        },
        "net.cidr_intersects": binary { a, b in
            let x = try cidr(try string(a, 1))
            let y = try cidr(try string(b, 2))
            return .bool(x.contains(y) || y.contains(x))
        },
        "net.cidr_expand": unary { value in
            let network = try cidr(try string(value, 1)).masked
            guard network.address.count == 4 else { throw BuiltinError.failed("only IPv4 ranges can be expanded") }
            let hostBits = 32 - network.prefix
            guard hostBits <= 16 else { throw BuiltinError.failed("range too large to expand") }
            let base = network.address.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            var addresses: Set<Value> = []
            for offset in 0..<(UInt32(1) << UInt32(hostBits)) {
                let address = base + offset
                addresses.insert(.string("\(address >> 24 & 255).\(address >> 16 & 255).\(address >> 8 & 255).\(address & 255)"))
            }
            return .set(addresses)
        },
        "base64url.encode_no_pad": unary { value in
            .string(
                Data(try string(value, 1).utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-")
                    .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
            )
        },
        "time.add_date": Builtin(arity: 4) { args, _ in
            let nanos = try integer(args[0], 1)
            let (days, second) = try dayAndSecond(args[0])
            var (year, month, day) = civil(days)
            let years = try integer(args[1], 2)
            let months = try integer(args[2], 3)
            guard years.magnitude <= 1_000_000, months.magnitude <= 12_000_000, (try integer(args[3], 4)).magnitude <= 365_000_000 else {
                throw BuiltinError.failed("time outside of valid range")
            }
            year += years
            month += months
            // Normalise months like Go's time.AddDate, then let days overflow into the next month.
            year += (month - 1).floorDivided(by: 12)
            month = (month - 1).floorModulo(12) + 1
            let newDays = daysFrom(year, month, day) + (try integer(args[3], 4))
            let subsecond = nanos.floorModulo(1_000_000_000)
            let (result, overflow) = (newDays * 86_400 + second).multipliedReportingOverflow(by: 1_000_000_000)
            guard !overflow else { throw BuiltinError.failed("time outside of valid range") }
            return .int(result + subsecond)
        },
    ]

    struct CIDR {
        var address: [UInt8]
        var prefix: Int

        func contains(_ other: CIDR) -> Bool {
            guard address.count == other.address.count, other.prefix >= prefix else { return false }
            var bits = prefix
            for (a, b) in zip(address, other.address) {
                if bits <= 0 { break }
                let mask: UInt8 = bits >= 8 ? 0xFF : ~(0xFF >> UInt8(bits))
                if a & mask != b & mask { return false }
                bits -= 8
            }
            return true
        }
    }

    static func cidr(_ text: String) throws -> CIDR {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let prefix = Int(parts[1]) else { throw BuiltinError.failed("invalid CIDR address: \(text)") }
        let host = String(parts[0])
        var bytes: [UInt8]
        if host.contains(":") {
            var storage = in6_addr()
            guard inet_pton(AF_INET6, host, &storage) == 1 else { throw BuiltinError.failed("invalid CIDR address: \(text)") }
            bytes = withUnsafeBytes(of: &storage) { Array($0) }
        } else {
            let octets = host.split(separator: ".", omittingEmptySubsequences: false).compactMap { UInt8($0) }
            guard octets.count == 4 else { throw BuiltinError.failed("invalid CIDR address: \(text)") }
            bytes = octets
        }
        guard prefix >= 0, prefix <= bytes.count * 8 else { throw BuiltinError.failed("invalid CIDR address: \(text)") }
        return CIDR(address: bytes, prefix: prefix)
    }

    static func dayAndSecond(_ value: Value) throws -> (Int, Int) {
        let nanos: Int
        switch value {
        case .number: nanos = try integer(value, 1)
        case .array(let items) where items.count == 2: nanos = try integer(items[0], 1)
        default: throw BuiltinError.operand(1, "one of {number, array}", value)
        }
        let seconds = nanos.floorDivided(by: 1_000_000_000)
        return (seconds.floorDivided(by: 86_400), seconds.floorModulo(86_400))
    }

    static func civil(_ days: Int) -> (Int, Int, Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    static func daysFrom(_ year: Int, _ month: Int, _ day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}

extension Int {
    func floorDivided(by divisor: Int) -> Int {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }

    func floorModulo(_ divisor: Int) -> Int {
        let remainder = self % divisor
        return remainder < 0 ? remainder + divisor : remainder
    }
}
