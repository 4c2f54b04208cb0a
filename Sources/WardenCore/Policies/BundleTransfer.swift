import Crypto
public import Foundation

/// Signs exported bundles and checks imported ones. With a shared secret configured
/// (`WARDEN_BUNDLE_SIGNING_SECRET`), HMAC-SHA256 under its key id, so environments that share the
/// secret accept each other's exports; otherwise Ed25519 with this deployment's own key (kept in the
/// database, so every replica signs and verifies alike).
public struct BundleSigner: Sendable {
    public enum Key: Sendable {
        case hmac(id: String, secret: [UInt8])
        case ed25519(id: String, privateKey: [UInt8])
    }

    let key: Key
    /// How long an export stays importable.
    public let lifetime: TimeInterval

    public init(key: Key, lifetime: TimeInterval = 86_400) {
        self.key = key
        self.lifetime = lifetime
    }

    public var algorithm: String {
        switch key {
        case .hmac: "HMAC-SHA256"
        case .ed25519: "Ed25519"
        }
    }

    public var keyID: String {
        switch key {
        case .hmac(let id, _), .ed25519(let id, _): id
        }
    }

    func sign(_ message: [UInt8]) throws -> [UInt8] {
        switch key {
        case .hmac(_, let secret):
            return Array(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: secret)))
        case .ed25519(_, let privateKey):
            return Array(try Curve25519.Signing.PrivateKey(rawRepresentation: privateKey).signature(for: message))
        }
    }

    func verify(_ message: [UInt8], signature: [UInt8], algorithm: String, keyID: String) -> Bool {
        guard algorithm == self.algorithm, keyID == self.keyID else { return false }
        switch key {
        case .hmac(_, let secret):
            return HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: message, using: SymmetricKey(data: secret))
        case .ed25519(_, let privateKey):
            guard let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: privateKey) else { return false }
            return key.publicKey.isValidSignature(signature, for: message)
        }
    }
}

/// The exported form of a bundle: its contents and a signature over them with an expiry.
public enum BundleTransfer {
    public static let format = "warden.bundle.v1"

    /// The signed part: everything but the signature value, as canonical JSON (sorted keys, compact).
    static func signedText(bundle: JSONValue, algorithm: String, keyID: String, signedAt: String, expiresAt: String) -> [UInt8] {
        JSONValue.object([
            "format": .string(format), "bundle": bundle, "alg": .string(algorithm), "key_id": .string(keyID), "signed_at": .string(signedAt),
            "expires_at": .string(expiresAt),
        ]).canonicalBytes
    }

    /// The contents of a bundle as exported.
    public static func contents(_ bundle: PolicyBundle, tenantSlug: String) -> JSONValue {
        var fields: [String: JSONValue] = [
            "version": .string(bundle.version.description), "modules": .object(bundle.modules.mapValues(JSONValue.string)), "data": bundle.data,
            "rules": bundle.rules, "entrypoint": .string(bundle.entrypoint), "default_effect": .string(bundle.defaultEffect.rawValue),
            "notes": bundle.notes.map(JSONValue.string) ?? .null, "source_tenant": .string(tenantSlug),
            "source_id": .string(bundle.id.uuidString.lowercased()),
        ]
        if let opa = bundle.opa {
            fields["opa"] = .object(["url": .string(opa.url), "path": .string(opa.path), "timeout_ms": .int(Int64(opa.timeoutMilliseconds))])
        }
        return .object(fields)
    }

    /// `{format, bundle, signature: {alg, key_id, signed_at, expires_at, value}}`.
    public static func export(_ bundle: PolicyBundle, tenantSlug: String, signer: BundleSigner, now: Date) throws -> JSONValue {
        let contents = contents(bundle, tenantSlug: tenantSlug)
        let signedAt = Timestamp.format(now)
        let expiresAt = Timestamp.format(now.addingTimeInterval(signer.lifetime))
        let signature = try signer.sign(
            signedText(bundle: contents, algorithm: signer.algorithm, keyID: signer.keyID, signedAt: signedAt, expiresAt: expiresAt))
        return .object([
            "format": .string(format), "bundle": contents,
            "signature": .object([
                "alg": .string(signer.algorithm), "key_id": .string(signer.keyID), "signed_at": .string(signedAt),
                "expires_at": .string(expiresAt), "value": .string(Data(signature).base64EncodedString()),
            ]),
        ])
    }

    /// The bundle contents of a signed export, once its signature and expiry check out:
    /// 400 `invalid_signature` for anything altered, signed by another key, or malformed;
    /// 400 `signature_expired` past its expiry.
    public static func verify(_ document: JSONValue, signer: BundleSigner, now: Date) throws(WardenError) -> [String: JSONValue] {
        guard case .object(let fields) = document, fields["format"] == .string(format), case .object(let contents)? = fields["bundle"],
            case .object(let signature)? = fields["signature"], case .string(let algorithm)? = signature["alg"],
            case .string(let keyID)? = signature["key_id"], case .string(let signedAt)? = signature["signed_at"],
            case .string(let expiresAt)? = signature["expires_at"], case .string(let value)? = signature["value"]
        else {
            throw WardenError(
                .invalidSignature,
                "not a signed Warden bundle export (\(format)): bundle and signature {alg, key_id, signed_at, expires_at, value} are required")
        }
        guard let bytes = Data(base64Encoded: value),
            signer.verify(
                signedText(bundle: .object(contents), algorithm: algorithm, keyID: keyID, signedAt: signedAt, expiresAt: expiresAt),
                signature: Array(bytes), algorithm: algorithm, keyID: keyID)
        else {
            throw WardenError(
                .invalidSignature,
                "the bundle's signature does not verify (\(algorithm), key '\(keyID)'): it was altered, or signed with a key this server does not hold"
            )
        }
        guard let expiry = Timestamp.parse(expiresAt) else { throw WardenError(.invalidSignature, "expires_at is not a timestamp") }
        guard now < expiry else {
            throw WardenError(.signatureExpired, "the export expired at \(expiresAt); export it again for a fresh signature")
        }
        return contents
    }
}
