import Foundation

extension Builtins {
    /// Graph paths, CIDR merging and matching, UUID parsing, JSON with layout options, durations.
    static let graphs: [String: Builtin] = [
        "graph.reachable_paths": binary { graph, initial in
            let edges = try object(graph, 1)
            var paths: Set<Value> = []
            func visit(_ node: Value, _ path: [Value]) throws {
                guard let targets = edges[node] else {
                    if !path.isEmpty { paths.insert(.array(path)) }
                    return
                }
                let extended = path + [node]
                let next: [Value]
                switch targets {
                case .array(let items): next = items
                case .set(let items): next = items.sorted()
                case .null: next = []
                default: throw BuiltinError.operand(1, "an object of arrays or sets", graph)
                }
                if next.isEmpty { paths.insert(.array(extended)) }
                for target in next {
                    if extended.contains(target) {
                        paths.insert(.array(extended))
                    } else {
                        try visit(target, extended)
                    }
                }
            }
            for node in try elements(initial, 2) { try visit(node, []) }
            return .set(paths)
        },
        "net.cidr_merge": unary { value in
            var networks: [CIDR] = []
            for item in try elements(value, 1) {
                guard case .string(let text) = item else { throw BuiltinError.operand(1, "an array or set of strings", value) }
                // A bare IPv4 address takes its class's default mask, as Go's net.IP.DefaultMask gives.
                if !text.contains("/"), !text.contains(":"), let first = text.split(separator: ".").first.flatMap({ Int($0) }) {
                    networks.append(try cidr(text + (first < 128 ? "/8" : first < 192 ? "/16" : "/24")))
                } else {
                    networks.append(try cidrOrAddress(text))
                }
            }
            return .set(Set(mergeNetworks(networks).map { Value.string($0.text) }))
        },
        "net.cidr_contains_matches": binary { a, b in
            let outer = try cidrCandidates(a, 1)
            let inner = try cidrCandidates(b, 2)
            var matches: Set<Value> = []
            for (outerKey, outerText) in outer {
                let network = try cidr(outerText)
                for (innerKey, innerText) in inner where network.contains(try cidrOrAddress(innerText)) {
                    matches.insert(.array([outerKey, innerKey]))
                }
            }
            return .set(matches)
        },
        "uuid.parse": unary { value in
            let text = try string(value, 1)
            let hex = text.replacingOccurrences(of: "-", with: "").lowercased()
            let dashed = text.count == 36 && [8, 13, 18, 23].allSatisfy { text[text.index(text.startIndex, offsetBy: $0)] == "-" }
            guard dashed || text.count == 32, hex.count == 32, hex.allSatisfy(\.isHexDigit) else { return nil }
            let bytes = stride(from: 0, to: 32, by: 2).map {
                UInt8(hex[hex.index(hex.startIndex, offsetBy: $0)..<hex.index(hex.startIndex, offsetBy: $0 + 2)], radix: 16)!
            }
            let version = Int(bytes[6] >> 4)
            let variant: String
            switch bytes[8] {
            case 0x00..<0x80: variant = "Reserved, NCS backward compatibility"
            case 0x80..<0xC0: variant = "RFC4122"
            case 0xC0..<0xE0: variant = "Reserved, Microsoft Corporation backward compatibility"
            default: variant = "Reserved, future definition"
            }
            var fields: [Value: Value] = [.string("version"): .int(version), .string("variant"): .string(variant)]
            if variant == "RFC4122", version == 1 || version == 2 {
                // Time-based: 60-bit timestamp in 100 ns steps since 1582-10-15, clock sequence, node.
                let timeLow = UInt64(bytes[0]) << 24 | UInt64(bytes[1]) << 16 | UInt64(bytes[2]) << 8 | UInt64(bytes[3])
                let timeMid = UInt64(bytes[4]) << 8 | UInt64(bytes[5])
                let timeHigh = (UInt64(bytes[6]) << 8 | UInt64(bytes[7])) & 0x0FFF
                let clock = (Int(bytes[8]) << 8 | Int(bytes[9])) & 0x3FFF
                if version == 2 {
                    let domains = ["Person", "Group", "Org"]
                    fields[.string("id")] = .int(Int(timeLow))
                    fields[.string("domain")] = .string(Int(bytes[9]) < domains.count ? domains[Int(bytes[9])] : "Domain\(bytes[9])")
                }
                let ticks = timeHigh << 48 | timeMid << 32 | timeLow
                let unixTicks = Int64(bitPattern: ticks) - 0x01B2_1DD2_1381_4000
                fields[.string("time")] = .int(Int(unixTicks) * 100)
                fields[.string("clocksequence")] = .int(clock)
                fields[.string("nodeid")] = .string(bytes[10...].map { String(format: "%02x", $0) }.joined(separator: "-"))
                let local = bytes[10] & 0x02 != 0 ? "local" : "global"
                let cast = bytes[10] & 0x01 != 0 ? "multicast" : "unicast"
                fields[.string("macvariables")] = .string("\(local):\(cast)")
            }
            return .object(fields)
        },
        "json.marshal_with_options": binary { value, options in
            let settings = try object(options, 2)
            var pretty: Bool?
            var prefix = ""
            var indent = "\t"
            for (key, setting) in settings {
                switch (key, setting) {
                case (.string("pretty"), .bool(let flag)): pretty = flag
                case (.string("prefix"), .string(let text)): prefix = text
                case (.string("indent"), .string(let text)): indent = text
                case (.string("pretty"), _), (.string("prefix"), _), (.string("indent"), _):
                    throw BuiltinError.failed("operand 2: option \(key.jsonText) has the wrong type")
                default: throw BuiltinError(message: "object contained unknown key \(key.jsonText)", isTypeError: true)
                }
            }
            // Pretty unless turned off; prefix or indent alone turn it on.
            let isPretty = pretty ?? (!settings.isEmpty)
            guard isPretty else { return .string(value.jsonText) }
            let lines = value.prettyJSON(indent: indent).split(separator: "\n", omittingEmptySubsequences: false)
            return .string(lines.map { prefix + $0 }.joined(separator: "\n"))
        },
        "time.parse_duration_ns": unary { value in
            guard let nanoseconds = parseDuration(try string(value, 1)) else {
                throw BuiltinError.failed("time: invalid duration \(value.jsonText)")
            }
            return .int(nanoseconds)
        },
    ]

    /// A CIDR, or a single address as a /32 or /128.
    static func cidrOrAddress(_ text: String) throws -> CIDR {
        try cidr(text.contains("/") ? text : text + (text.contains(":") ? "/128" : "/32"))
    }

    /// `(key, text)` pairs of net.cidr_contains_matches's operands: a string, or a collection of
    /// strings or non-empty arrays whose first element is the string.
    static func cidrCandidates(_ value: Value, _ position: Int) throws -> [(Value, String)] {
        func text(_ element: Value) throws -> String {
            switch element {
            case .string(let text): return text
            case .array(let items):
                if case .string(let text)? = items.first { return text }
            default: break
            }
            throw BuiltinError.failed("operand \(position): element must be string or non-empty array")
        }
        switch value {
        case .string(let text): return [(value, text)]
        case .array(let items): return try items.enumerated().map { (.int($0.offset), try text($0.element)) }
        case .set(let items): return try items.sorted().map { ($0, try text($0)) }
        case .object(let fields): return try fields.keys.sorted().map { ($0, try text(fields[$0]!)) }
        default: throw BuiltinError.operand(position, "one of {string, array, set, object}", value)
        }
    }

    /// The smallest set of networks covering exactly the given ones.
    static func mergeNetworks(_ networks: [CIDR]) -> [CIDR] {
        var merged: [CIDR] = []
        for family in [4, 16] {
            var list = networks.filter { $0.address.count == family }.map(\.masked)
            var changed = true
            while changed {
                changed = false
                list.sort { $0.address == $1.address ? $0.prefix < $1.prefix : $0.address.lexicographicallyPrecedes($1.address) }
                var kept: [CIDR] = []
                for network in list {
                    if let last = kept.last, last.contains(network) {
                        changed = changed || last != network
                        continue
                    }
                    if let last = kept.last, last.prefix == network.prefix, last.prefix > 0 {
                        let parent = CIDR(address: last.address, prefix: last.prefix - 1).masked
                        if parent.address == last.address, parent.contains(network) {
                            kept[kept.count - 1] = parent
                            changed = true
                            continue
                        }
                    }
                    kept.append(network)
                }
                list = kept
            }
            merged += list
        }
        return merged
    }

    /// Go's time.ParseDuration: `[-+]` then number-unit pairs (`1h30m`, `1.5s`, `300ms`).
    static func parseDuration(_ text: String) -> Int? {
        var rest = Substring(text)
        var sign = 1.0
        if rest.first == "-" || rest.first == "+" {
            sign = rest.first == "-" ? -1 : 1
            rest = rest.dropFirst()
        }
        if rest == "0" { return 0 }
        guard !rest.isEmpty else { return nil }
        let units: [(String, Double)] = [("ns", 1), ("us", 1e3), ("µs", 1e3), ("μs", 1e3), ("ms", 1e6), ("s", 1e9), ("m", 6e10), ("h", 3.6e12)]
        var total = 0.0
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard !number.isEmpty, let amount = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            guard let unit = units.first(where: { rest.hasPrefix($0.0) && !(($0.0 == "m") && rest.hasPrefix("ms")) }) else { return nil }
            rest = rest.dropFirst(unit.0.count)
            total += amount * unit.1
        }
        let result = sign * total
        guard result.magnitude < 9.2e18 else { return nil }
        return Int(result)
    }
}

extension Builtins.CIDR: Equatable {
    static func == (lhs: Builtins.CIDR, rhs: Builtins.CIDR) -> Bool { lhs.address == rhs.address && lhs.prefix == rhs.prefix }

    /// The network address with the host bits cleared.
    var masked: Builtins.CIDR {
        var bytes = address
        for index in bytes.indices {
            let bits = prefix - index * 8
            if bits >= 8 { continue }
            bytes[index] &= bits <= 0 ? 0 : ~(0xFF >> UInt8(bits))
        }
        return Builtins.CIDR(address: bytes, prefix: prefix)
    }

    var text: String {
        if address.count == 4 { return address.map(String.init).joined(separator: ".") + "/\(prefix)" }
        var storage = in6_addr()
        withUnsafeMutableBytes(of: &storage) { raw in for (index, byte) in address.enumerated() { raw[index] = byte } }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        inet_ntop(AF_INET6, &storage, &buffer, socklen_t(buffer.count))
        return String(cString: buffer) + "/\(prefix)"
    }
}
