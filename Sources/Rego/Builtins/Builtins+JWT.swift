import Crypto
import Foundation
import _CryptoExtras

/// `io.jwt.verify_*` and `io.jwt.decode_verify`: JWS signatures with HMAC (HS256/384/512), RSA
/// (RS and PS 256/384/512), ECDSA (ES256/384/512) and EdDSA (Ed25519). Keys are PEM certificates,
/// PEM public keys, JWKs or JWK sets, as OPA takes them.
extension Builtins {
    static let jwt: [String: Builtin] = {
        var table: [String: Builtin] = [:]
        for bits in [256, 384, 512] {
            table["io.jwt.verify_hs\(bits)"] = binary { token, secret in
                .bool(try JWT.verify(try string(token, 1), algorithm: "HS\(bits)", keys: .secret(try string(secret, 2))))
            }
            for family in ["rs", "ps", "es"] {
                table["io.jwt.verify_\(family)\(bits)"] = binary { token, certificate in
                    .bool(
                        try JWT.verify(
                            try string(token, 1), algorithm: "\(family.uppercased())\(bits)", keys: try JWT.keys(try string(certificate, 2))))
                }
            }
        }
        table["io.jwt.verify_eddsa"] = binary { token, certificate in
            .bool(try JWT.verify(try string(token, 1), algorithm: "EdDSA", keys: try JWT.keys(try string(certificate, 2))))
        }
        table["io.jwt.decode_verify"] = Builtin(arity: 2) { args, evaluator in
            try JWT.decodeVerify(try string(args[0], 1), try object(args[1], 2), now: evaluator.nowNanoseconds)
        }
        return table
    }()
}

enum JWT {
    enum Keys {
        case secret(String)
        case publicKeys([PublicKey])
    }

    enum PublicKey {
        case rsa(_RSA.Signing.PublicKey)
        case p256(P256.Signing.PublicKey)
        case p384(P384.Signing.PublicKey)
        case p521(P521.Signing.PublicKey)
        case ed25519(Curve25519.Signing.PublicKey)
    }

    struct Parts {
        var header: Value
        var payload: Value
        /// The payload as decoded text (for a nested token, the inner token).
        var payloadText: String
        var signingInput: Data
        var signature: Data
    }

    static func base64URL(_ text: Substring) -> Data? {
        var padded = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while padded.count % 4 != 0 { padded += "=" }
        return Data(base64Encoded: padded)
    }

    static func split(_ token: String) throws -> Parts {
        let sections = token.split(separator: ".", omittingEmptySubsequences: false)
        guard sections.count == 3 else { throw BuiltinError.failed("encoded JWT must have 3 sections, found \(sections.count)") }
        guard let headerData = base64URL(sections[0]), let header = try? Value.parseJSON(String(decoding: headerData, as: UTF8.self)) else {
            throw BuiltinError.failed("failed to parse JWT header")
        }
        guard let payloadData = base64URL(sections[1]), let signature = base64URL(sections[2]) else {
            throw BuiltinError.failed("JWT is not valid base64url")
        }
        let payloadText = String(decoding: payloadData, as: UTF8.self)
        let payload = (try? Value.parseJSON(payloadText)) ?? .null
        return Parts(
            header: header, payload: payload, payloadText: payloadText, signingInput: Data("\(sections[0]).\(sections[1])".utf8), signature: signature
        )
    }

    /// Whether the token's signature verifies with `algorithm` under one of `keys`. A token whose
    /// header names another algorithm does not verify.
    static func verify(_ token: String, algorithm: String, keys: Keys) throws -> Bool {
        let parts = try split(token)
        guard case .object(let header) = parts.header, header[.string("alg")] == .string(algorithm) else { return false }
        return verify(parts, algorithm: algorithm, keys: keys)
    }

    static func verify(_ parts: Parts, algorithm: String, keys: Keys) -> Bool {
        switch keys {
        case .secret(let secret):
            let key = SymmetricKey(data: Data(secret.utf8))
            switch algorithm {
            case "HS256": return HMAC<SHA256>.isValidAuthenticationCode(parts.signature, authenticating: parts.signingInput, using: key)
            case "HS384": return HMAC<SHA384>.isValidAuthenticationCode(parts.signature, authenticating: parts.signingInput, using: key)
            case "HS512": return HMAC<SHA512>.isValidAuthenticationCode(parts.signature, authenticating: parts.signingInput, using: key)
            default: return false
            }
        case .publicKeys(let candidates):
            return candidates.contains { verify(parts, algorithm: algorithm, key: $0) }
        }
    }

    static func verify(_ parts: Parts, algorithm: String, key: PublicKey) -> Bool {
        let data = parts.signingInput
        switch (algorithm, key) {
        case ("RS256", .rsa(let key)), ("PS256", .rsa(let key)):
            return rsa(key, parts.signature, SHA256.hash(data: data), pss: algorithm.hasPrefix("PS"))
        case ("RS384", .rsa(let key)), ("PS384", .rsa(let key)):
            return rsa(key, parts.signature, SHA384.hash(data: data), pss: algorithm.hasPrefix("PS"))
        case ("RS512", .rsa(let key)), ("PS512", .rsa(let key)):
            return rsa(key, parts.signature, SHA512.hash(data: data), pss: algorithm.hasPrefix("PS"))
        case ("ES256", .p256(let key)):
            guard let signature = try? P256.Signing.ECDSASignature(rawRepresentation: parts.signature) else { return false }
            return key.isValidSignature(signature, for: data)
        case ("ES384", .p384(let key)):
            guard let signature = try? P384.Signing.ECDSASignature(rawRepresentation: parts.signature) else { return false }
            return key.isValidSignature(signature, for: data)
        case ("ES512", .p521(let key)):
            guard let signature = try? P521.Signing.ECDSASignature(rawRepresentation: parts.signature) else { return false }
            return key.isValidSignature(signature, for: data)
        case ("EdDSA", .ed25519(let key)):
            return key.isValidSignature(parts.signature, for: data)
        default:
            return false
        }
    }

    static func rsa<D: Digest>(_ key: _RSA.Signing.PublicKey, _ signature: Data, _ digest: D, pss: Bool) -> Bool {
        key.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: signature), for: digest, padding: pss ? .PSS : .insecurePKCS1v1_5)
    }

    // MARK: Keys

    /// A PEM certificate or public key, a JWK, or a JWK set.
    static func keys(_ text: String) throws -> Keys {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.hasPrefix("-----BEGIN") {
            guard let (label, der) = pem(trimmed) else { throw BuiltinError.failed("failed to parse a PEM certificate") }
            switch label {
            case "CERTIFICATE":
                guard let spki = DER.subjectPublicKeyInfo(ofCertificate: der), let key = publicKey(spki: spki) else {
                    throw BuiltinError.failed("failed to parse a PEM certificate")
                }
                return .publicKeys([key])
            case "PUBLIC KEY":
                guard let key = publicKey(spki: der) else { throw BuiltinError.failed("failed to parse a PEM public key") }
                return .publicKeys([key])
            case "RSA PUBLIC KEY":
                guard let key = try? _RSA.Signing.PublicKey(pemRepresentation: trimmed) else {
                    throw BuiltinError.failed("failed to parse a PEM public key")
                }
                return .publicKeys([.rsa(key)])
            default:
                throw BuiltinError.failed("failed to parse a PEM certificate")
            }
        }
        guard case .object(let object)? = try? Value.parseJSON(trimmed) else { throw BuiltinError.failed("failed to parse a JWK key (set)") }
        if case .array(let items)? = object[.string("keys")] {
            let found = items.compactMap { item -> PublicKey? in
                guard case .object(let jwk) = item else { return nil }
                return publicKey(jwk: jwk)
            }
            guard !found.isEmpty else { throw BuiltinError.failed("failed to parse a JWK key (set)") }
            return .publicKeys(found)
        }
        guard let key = publicKey(jwk: object) else { throw BuiltinError.failed("failed to parse a JWK key (set)") }
        return .publicKeys([key])
    }

    static func pem(_ text: String) -> (String, Data)? {
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        guard let first = lines.first, first.hasPrefix("-----BEGIN "), first.hasSuffix("-----") else { return nil }
        let label = String(first.dropFirst("-----BEGIN ".count).dropLast(5))
        let body = lines.dropFirst().prefix { !$0.hasPrefix("-----END") }.joined()
        guard let der = Data(base64Encoded: body), !der.isEmpty else { return nil }
        return (label, der)
    }

    static func publicKey(spki: Data) -> PublicKey? {
        if let key = try? _RSA.Signing.PublicKey(derRepresentation: spki) { return .rsa(key) }
        if let key = try? P256.Signing.PublicKey(derRepresentation: spki) { return .p256(key) }
        if let key = try? P384.Signing.PublicKey(derRepresentation: spki) { return .p384(key) }
        if let key = try? P521.Signing.PublicKey(derRepresentation: spki) { return .p521(key) }
        // Ed25519 SubjectPublicKeyInfo: the algorithm 1.3.101.112 and the 32-byte key last.
        let ed25519Prefix: [UInt8] = [0x30, 0x2A, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x03, 0x21, 0x00]
        if spki.count == 44, Array(spki.prefix(12)) == ed25519Prefix, let key = try? Curve25519.Signing.PublicKey(rawRepresentation: spki.suffix(32))
        {
            return .ed25519(key)
        }
        return nil
    }

    static func publicKey(jwk: [Value: Value]) -> PublicKey? {
        func field(_ name: String) -> Data? {
            guard case .string(let text)? = jwk[.string(name)] else { return nil }
            return base64URL(Substring(text))
        }
        guard case .string(let kty)? = jwk[.string("kty")] else { return nil }
        switch kty {
        case "RSA":
            guard let n = field("n"), let e = field("e"), let key = try? _RSA.Signing.PublicKey(n: n, e: e) else { return nil }
            return .rsa(key)
        case "EC":
            guard let x = field("x"), let y = field("y"), case .string(let curve)? = jwk[.string("crv")] else { return nil }
            switch curve {
            case "P-256": return (try? P256.Signing.PublicKey(rawRepresentation: x + y)).map(PublicKey.p256)
            case "P-384": return (try? P384.Signing.PublicKey(rawRepresentation: x + y)).map(PublicKey.p384)
            case "P-521": return (try? P521.Signing.PublicKey(rawRepresentation: x + y)).map(PublicKey.p521)
            default: return nil
            }
        case "OKP":
            guard let x = field("x") else { return nil }
            return (try? Curve25519.Signing.PublicKey(rawRepresentation: x)).map(PublicKey.ed25519)
        default:
            return nil
        }
    }

    // MARK: decode_verify

    /// `[valid, header, payload]`: the signature verifies under `cert` or `secret` (with `alg` if
    /// given), and `exp`, `nbf`, `iss` and `aud` hold at `time` (default: now). Otherwise
    /// `[false, {}, {}]`.
    static func decodeVerify(_ token: String, _ constraints: [Value: Value], now: Int) throws -> Value {
        let invalid = Value.array([.bool(false), .object([:]), .object([:])])
        for key in constraints.keys {
            guard case .string(let name) = key, ["cert", "secret", "alg", "iss", "aud", "time"].contains(name) else {
                throw BuiltinError.failed("unknown token validation constraint: \(key.jsonText)")
            }
        }
        let keys: Keys
        if case .string(let certificate)? = constraints[.string("cert")] {
            keys = try self.keys(certificate)
        } else if case .string(let secret)? = constraints[.string("secret")] {
            keys = .secret(secret)
        } else {
            throw BuiltinError.failed("no key specified")
        }
        // A nested token (`cty: JWT`) carries another token as its payload: each level must verify
        // with the same keys, and the innermost header and payload are the result (as in OPA).
        var parts = try split(token)
        for depth in 0... {
            guard case .object(let header) = parts.header, case .string(let algorithm)? = header[.string("alg")] else { return invalid }
            if case .string(let wanted)? = constraints[.string("alg")], wanted != algorithm { return invalid }
            if let critical = header[.string("crit")], critical != .null { return invalid }
            guard verify(parts, algorithm: algorithm, keys: keys) else { return invalid }
            guard header[.string("cty")] == .string("JWT") else { break }
            guard depth < 8 else { throw BuiltinError.failed("JWT nesting is deeper than 8 levels") }
            parts = try split(parts.payloadText)
        }
        guard case .object(let claims) = parts.payload else { return invalid }
        var time = Double(now)
        if case .number(let given)? = constraints[.string("time")] { time = given.doubleValue }
        for (claim, isExpiry) in [("exp", true), ("nbf", false)] {
            guard let value = claims[.string(claim)] else { continue }
            guard case .number(let seconds) = value else { throw BuiltinError.failed("\(claim) value must be a number") }
            let nanoseconds = seconds.doubleValue * 1e9
            if isExpiry ? time >= nanoseconds : time < nanoseconds { return invalid }
        }
        if case .string(let issuer)? = constraints[.string("iss")], claims[.string("iss")] != .string(issuer) { return invalid }
        let audience = claims[.string("aud")]
        if case .string(let wanted)? = constraints[.string("aud")] {
            switch audience {
            case .string(let single)?: if single != wanted { return invalid }
            case .array(let list)?: if !list.contains(.string(wanted)) { return invalid }
            default: return invalid
            }
        } else if audience != nil {
            return invalid
        }
        return .array([.bool(true), parts.header, parts.payload])
    }
}

/// Just enough DER to find a certificate's SubjectPublicKeyInfo.
enum DER {
    /// The element at `offset`: tag, content range and the offset after it.
    static func element(_ bytes: [UInt8], _ offset: Int) -> (tag: UInt8, content: Range<Int>, end: Int)? {
        guard offset + 1 < bytes.count else { return nil }
        let tag = bytes[offset]
        var length = Int(bytes[offset + 1])
        var start = offset + 2
        if length & 0x80 != 0 {
            let count = length & 0x7F
            guard count > 0, count <= 4, start + count <= bytes.count else { return nil }
            length = 0
            for byte in bytes[start..<(start + count)] { length = length << 8 | Int(byte) }
            start += count
        }
        guard start + length <= bytes.count else { return nil }
        return (tag, start..<(start + length), start + length)
    }

    /// Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version?, serial, signature,
    /// issuer, validity, subject, subjectPublicKeyInfo, … }, … }
    static func subjectPublicKeyInfo(ofCertificate der: Data) -> Data? {
        let bytes = [UInt8](der)
        guard let certificate = element(bytes, 0), certificate.tag == 0x30,
            let tbs = element(bytes, certificate.content.lowerBound), tbs.tag == 0x30
        else { return nil }
        var offset = tbs.content.lowerBound
        var index = 0
        if let first = element(bytes, offset), first.tag == 0xA0 { offset = first.end }
        while let item = element(bytes, offset), offset < tbs.content.upperBound {
            if index == 5 { return item.tag == 0x30 ? Data(bytes[offset..<item.end]) : nil }
            offset = item.end
            index += 1
        }
        return nil
    }
}

/// `io.jwt.encode_sign` and `encode_sign_raw`: JWS compact serialization signed with a JWK (HS, RS, PS,
/// ES 256/384/512 and EdDSA).
extension Builtins {
    static let jwtSigning: [String: Builtin] = [
        "io.jwt.encode_sign": Builtin(arity: 3) { args, _ in
            let header = try object(args[0], 1)
            _ = try object(args[1], 2)
            _ = try object(args[2], 3)
            return .string(try JWT.sign(header: Value.object(header).jsonText, payload: args[1].jsonText, key: args[2].jsonText))
        },
        "io.jwt.encode_sign_raw": Builtin(arity: 3) { args, _ in
            .string(try JWT.sign(header: try string(args[0], 1), payload: try string(args[1], 2), key: try string(args[2], 3)))
        },
    ]
}

extension JWT {
    static func base64URLEncoded(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func sign(header: String, payload: String, key: String) throws -> String {
        let headerValue: Value
        do {
            headerValue = try Value.parseJSON(header)
        } catch {
            throw BuiltinError.failed("missing or invalid 'alg' header: cannot parse JSON")
        }
        guard case .object(let fields) = headerValue, case .string(let algorithm)? = fields[.string("alg")] else {
            throw BuiltinError.failed("missing or invalid 'alg' header: header \"alg\" not found")
        }
        if fields[.string("typ")] == .string("JWT"), (try? Value.parseJSON(payload)) == nil {
            throw BuiltinError.failed("type is JWT but payload is not JSON")
        }
        guard case .object(let jwk)? = try? Value.parseJSON(key) else { throw BuiltinError.failed("failed to parse a JWK key") }
        let input = base64URLEncoded(Data(header.utf8)) + "." + base64URLEncoded(Data(payload.utf8))
        let signature = try signature(Data(input.utf8), algorithm: algorithm, jwk: jwk)
        return input + "." + base64URLEncoded(signature)
    }

    static func signature(_ data: Data, algorithm: String, jwk: [Value: Value]) throws -> Data {
        func field(_ name: String) throws -> Data {
            guard case .string(let text)? = jwk[.string(name)], let bytes = base64URL(Substring(text)) else {
                throw BuiltinError.failed("JWK key has no valid \"\(name)\"")
            }
            return bytes
        }
        do {
            switch algorithm {
            case "HS256": return Data(HMAC<SHA256>.authenticationCode(for: data, using: SymmetricKey(data: try field("k"))))
            case "HS384": return Data(HMAC<SHA384>.authenticationCode(for: data, using: SymmetricKey(data: try field("k"))))
            case "HS512": return Data(HMAC<SHA512>.authenticationCode(for: data, using: SymmetricKey(data: try field("k"))))
            case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
                let key = try _RSA.Signing.PrivateKey(
                    n: try field("n"), e: try field("e"), d: try field("d"), p: try field("p"), q: try field("q")
                )
                let padding: _RSA.Signing.Padding = algorithm.hasPrefix("PS") ? .PSS : .insecurePKCS1v1_5
                switch algorithm.suffix(3) {
                case "256": return try key.signature(for: SHA256.hash(data: data), padding: padding).rawRepresentation
                case "384": return try key.signature(for: SHA384.hash(data: data), padding: padding).rawRepresentation
                default: return try key.signature(for: SHA512.hash(data: data), padding: padding).rawRepresentation
                }
            case "ES256": return try P256.Signing.PrivateKey(rawRepresentation: try field("d")).signature(for: data).rawRepresentation
            case "ES384": return try P384.Signing.PrivateKey(rawRepresentation: try field("d")).signature(for: data).rawRepresentation
            case "ES512": return try P521.Signing.PrivateKey(rawRepresentation: try field("d")).signature(for: data).rawRepresentation
            case "EdDSA": return try Curve25519.Signing.PrivateKey(rawRepresentation: try field("d")).signature(for: data)
            default: throw BuiltinError.failed("unknown JWS algorithm: \(algorithm)")
            }
        } catch let error as BuiltinError {
            throw error
        } catch {
            throw BuiltinError.failed("failed to sign the JWT: \(error)")
        }
    }
}
