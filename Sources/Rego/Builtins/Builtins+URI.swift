import Foundation

/// `uri.parse` and `uri.is_valid`, with Go's `net/url.Parse` rules (which OPA uses): the same
/// accepted and refused inputs, the same components and the same error messages.
extension Builtins {
    static let uri: [String: Builtin] = [
        "uri.parse": unary { value in
            let text = try string(value, 1)
            let parsed: GoURL
            do {
                parsed = try GoURL.parse(text)
            } catch let failure as GoURL.Failure {
                throw BuiltinError.failed("parse \(Value.string(text).jsonText): \(failure.message)")
            }
            var fields: [Value: Value] = [:]
            func put(_ key: String, _ part: String) { if !part.isEmpty { fields[.string(key)] = .string(part) } }
            put("scheme", parsed.scheme)
            put("hostname", parsed.hostname)
            put("port", parsed.port)
            put("path", parsed.path)
            put("raw_path", parsed.rawPath.isEmpty ? parsed.path : parsed.rawPath)
            put("raw_query", parsed.rawQuery)
            put("fragment", parsed.fragment)
            return .object(fields)
        },
        "uri.is_valid": unary { value in
            guard case .string(let text) = value, !text.isEmpty else { return .bool(false) }
            return .bool((try? GoURL.parse(text)) != nil)
        },
    ]
}

/// The parts of a URL as Go's `url.Parse` reads them.
struct GoURL {
    struct Failure: Error {
        var message: String
    }

    var scheme = ""
    var opaque = ""
    var host = ""
    var path = ""
    var rawPath = ""
    var rawQuery = ""
    var fragment = ""

    /// The host without port and IPv6 brackets.
    var hostname: String {
        var host = Substring(self.host)
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return String(host) }
            return String(host[host.index(after: host.startIndex)..<close])
        }
        if let colon = host.lastIndex(of: ":") { host = host[..<colon] }
        return String(host)
    }

    var port: String {
        var host = Substring(self.host)
        if host.hasPrefix("["), let close = host.firstIndex(of: "]") {
            host = host[host.index(after: close)...]
        } else if let colon = host.lastIndex(of: ":") {
            host = host[colon...]
        } else {
            return ""
        }
        guard host.hasPrefix(":") else { return "" }
        return String(host.dropFirst())
    }

    enum Mode { case path, host, zone, userPassword, queryComponent, fragment }

    static func parse(_ raw: String) throws(Failure) -> GoURL {
        var rest = Substring(raw)
        var fragment = Substring("")
        if let hash = rest.firstIndex(of: "#") {
            fragment = rest[rest.index(after: hash)...]
            rest = rest[..<hash]
        }
        var url = try parseWithoutFragment(rest)
        url.fragment = try unescape(fragment, .fragment)
        return url
    }

    static func parseWithoutFragment(_ raw: Substring) throws(Failure) -> GoURL {
        if raw.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) { throw Failure(message: "net/url: invalid control character in URL") }
        var url = GoURL()
        if raw.isEmpty { return url }
        if raw == "*" {
            url.path = "*"
            return url
        }
        var rest = raw
        // The scheme: a letter, then letters, digits, `+`, `-`, `.`, up to `:`.
        for (offset, byte) in raw.utf8.enumerated() {
            let isLetter = (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A)
            let isSchemeByte = (byte >= 0x30 && byte <= 0x39) || byte == 0x2B || byte == 0x2D || byte == 0x2E
            if isLetter { continue }
            if isSchemeByte {
                if offset == 0 { break }
                continue
            }
            if byte == 0x3A {
                if offset == 0 { throw Failure(message: "missing protocol scheme") }
                url.scheme = String(raw.prefix(offset)).lowercased()
                rest = raw.dropFirst(offset + 1)
            }
            break
        }
        if rest.hasSuffix("?") && rest.filter({ $0 == "?" }).count == 1 {
            rest = rest.dropLast()
        } else if let question = rest.firstIndex(of: "?") {
            url.rawQuery = String(rest[rest.index(after: question)...])
            rest = rest[..<question]
        }
        if !rest.hasPrefix("/") {
            if !url.scheme.isEmpty {
                url.opaque = String(rest)
                return url
            }
            let segment = rest.prefix { $0 != "/" }
            if segment.contains(":") { throw Failure(message: "first path segment in URL cannot contain colon") }
        }
        if (!url.scheme.isEmpty || !rest.hasPrefix("///")) && rest.hasPrefix("//") {
            var authority = rest.dropFirst(2)
            rest = ""
            if let slash = authority.firstIndex(of: "/") {
                rest = authority[slash...]
                authority = authority[..<slash]
            }
            url.host = try parseAuthority(authority)
        }
        url.path = try unescape(rest, .path)
        let escaped = escape(url.path, .path)
        url.rawPath = escaped == rest ? "" : String(rest)
        return url
    }

    static func parseAuthority(_ authority: Substring) throws(Failure) -> String {
        guard let at = authority.lastIndex(of: "@") else { return try parseHost(authority) }
        let host = try parseHost(authority[authority.index(after: at)...])
        let userinfo = authority[..<at]
        let allowed = Set("-._:~!$&'()*+,;=%@".utf8)
        for byte in userinfo.utf8 {
            let alphanumeric = (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x30 && byte <= 0x39)
            if !alphanumeric && !allowed.contains(byte) { throw Failure(message: "net/url: invalid userinfo") }
        }
        if let colon = userinfo.firstIndex(of: ":") {
            _ = try unescape(userinfo[..<colon], .userPassword)
            _ = try unescape(userinfo[userinfo.index(after: colon)...], .userPassword)
        } else {
            _ = try unescape(userinfo, .userPassword)
        }
        return host
    }

    static func parseHost(_ host: Substring) throws(Failure) -> String {
        if host.hasPrefix("[") {
            guard let close = host.lastIndex(of: "]") else { throw Failure(message: "missing ']' in host") }
            let colonPort = host[host.index(after: close)...]
            guard validOptionalPort(colonPort) else { throw Failure(message: "invalid port \(Value.string(String(colonPort)).jsonText) after host") }
            // An IPv6 zone (`%25eth0`) is unescaped in zone mode, the rest in host mode.
            let inside = host[..<close]
            if let zone = inside.range(of: "%25") {
                let address = try unescape(inside[..<zone.lowerBound], .host)
                let zoneText = try unescape(inside[zone.lowerBound...], .zone)
                return address + zoneText + (try unescape(host[close...], .host))
            }
        } else if let colon = host.lastIndex(of: ":") {
            let colonPort = host[colon...]
            guard validOptionalPort(colonPort) else { throw Failure(message: "invalid port \(Value.string(String(colonPort)).jsonText) after host") }
        }
        return try unescape(host, .host)
    }

    static func validOptionalPort(_ port: Substring) -> Bool {
        if port.isEmpty { return true }
        guard port.first == ":" else { return false }
        return port.utf8.dropFirst().allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: return byte - 0x30
        case 0x61...0x66: return byte - 0x61 + 10
        case 0x41...0x46: return byte - 0x41 + 10
        default: return nil
        }
    }

    static func unescape(_ text: Substring, _ mode: Mode) throws(Failure) -> String {
        let bytes = Array(text.utf8)
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == 0x25 {
                guard index + 2 < bytes.count, let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2]) else {
                    let end = min(index + 3, bytes.count)
                    throw Failure(message: "invalid URL escape \(Value.string(String(decoding: bytes[index..<end], as: UTF8.self)).jsonText)")
                }
                let escapeText = String(decoding: bytes[index..<(index + 3)], as: UTF8.self)
                // Hosts may not percent-encode ASCII, except `%25`; zones may, but only `%25` below 0x80 besides bytes that must be escaped.
                if mode == .host && high < 8 && escapeText != "%25" {
                    throw Failure(message: "invalid URL escape \(Value.string(escapeText).jsonText)")
                }
                if mode == .zone {
                    let decoded = high << 4 | low
                    if escapeText != "%25" && decoded != 0x20 && shouldEscape(decoded, .host) {
                        throw Failure(message: "invalid URL escape \(Value.string(escapeText).jsonText)")
                    }
                }
                output.append(high << 4 | low)
                index += 3
                continue
            }
            if byte == 0x2B && mode == .queryComponent {
                output.append(0x20)
            } else {
                if (mode == .host || mode == .zone) && byte < 0x80 && shouldEscape(byte, mode) {
                    throw Failure(message: "invalid character \(Value.string(String(UnicodeScalar(byte))).jsonText) in host name")
                }
                output.append(byte)
            }
            index += 1
        }
        return String(decoding: output, as: UTF8.self)
    }

    static func shouldEscape(_ byte: UInt8, _ mode: Mode) -> Bool {
        if (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x30 && byte <= 0x39) { return false }
        if mode == .host || mode == .zone {
            if Array("!$&'()*+,;=:[]<>\"".utf8).contains(byte) { return false }
        }
        switch byte {
        case 0x2D, 0x5F, 0x2E, 0x7E: return false  // - _ . ~
        case 0x24, 0x26, 0x2B, 0x2C, 0x2F, 0x3A, 0x3B, 0x3D, 0x3F, 0x40:  // $ & + , / : ; = ? @
            switch mode {
            case .path: return byte == 0x3F
            case .userPassword: return byte == 0x40 || byte == 0x2F || byte == 0x3F || byte == 0x3A
            case .queryComponent: return true
            case .fragment: return false
            case .host, .zone: return true
            }
        default:
            break
        }
        if mode == .fragment, Array("!()*".utf8).contains(byte) { return false }
        return true
    }

    static func escape(_ text: String, _ mode: Mode) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var output: [UInt8] = []
        for byte in text.utf8 {
            if shouldEscape(byte, mode) {
                if byte == 0x20 && mode == .queryComponent {
                    output.append(0x2B)
                } else {
                    output += [0x25, hex[Int(byte >> 4)], hex[Int(byte & 15)]]
                }
            } else {
                output.append(byte)
            }
        }
        return String(decoding: output, as: UTF8.self)
    }
}
