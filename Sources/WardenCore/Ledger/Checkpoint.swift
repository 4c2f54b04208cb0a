internal import Crypto
public import Foundation

/// A signed statement of a tenant's chain head: "entry N of tenant T has hash H", signed with
/// Ed25519. A rewrite of the chain up to N, however consistent, no longer matches it.
public struct LedgerCheckpoint: Sendable, Equatable {
    public var tenantID: UUID
    public var sequence: Int64
    public var hash: String
    public var keyID: String
    public var signature: [UInt8]
    public var signedAt: Date

    public init(tenantID: UUID, sequence: Int64, hash: String, keyID: String, signature: [UInt8], signedAt: Date) {
        self.tenantID = tenantID
        self.sequence = sequence
        self.hash = hash
        self.keyID = keyID
        self.signature = signature
        self.signedAt = signedAt
    }

    /// The signed text.
    public static func message(tenantID: UUID, sequence: Int64, hash: String, signedAt: Date) -> [UInt8] {
        Array("warden-ledger-checkpoint-v1\n\(tenantID.uuidString.lowercased())\n\(sequence)\n\(hash)\n\(Timestamp.format(signedAt))".utf8)
    }

    /// Whether `publicKey` (raw Ed25519) signed this checkpoint.
    public func isSigned(by publicKey: [UInt8]) -> Bool {
        guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: publicKey) else { return false }
        return key.isValidSignature(signature, for: Self.message(tenantID: tenantID, sequence: sequence, hash: hash, signedAt: signedAt))
    }
}

/// The key checkpoints are signed with.
public struct LedgerSigner: Sendable {
    public static let keyPurpose = "ledger_checkpoint"
    public let keyID: String
    let privateKey: [UInt8]

    public init(keyID: String, privateKey: [UInt8]) throws(WardenError) {
        guard (try? Curve25519.Signing.PrivateKey(rawRepresentation: privateKey)) != nil else {
            throw WardenError(.invalidField, "the ledger signing key must be a raw 32-byte Ed25519 private key")
        }
        self.keyID = keyID
        self.privateKey = privateKey
    }

    /// The raw Ed25519 public key.
    public var publicKey: [UInt8] {
        (try? Curve25519.Signing.PrivateKey(rawRepresentation: privateKey)).map { Array($0.publicKey.rawRepresentation) } ?? []
    }

    public func sign(tenantID: UUID, sequence: Int64, hash: String, at: Date) throws -> LedgerCheckpoint {
        let signedAt = Timestamp.truncated(at)
        let key = try Curve25519.Signing.PrivateKey(rawRepresentation: privateKey)
        let signature = try key.signature(for: LedgerCheckpoint.message(tenantID: tenantID, sequence: sequence, hash: hash, signedAt: signedAt))
        return LedgerCheckpoint(tenantID: tenantID, sequence: sequence, hash: hash, keyID: keyID, signature: Array(signature), signedAt: signedAt)
    }

    /// The raw public key of an Ed25519 private key, for listing keys.
    public static func publicKey(ofPrivate privateKey: [UInt8]) -> [UInt8]? {
        (try? Curve25519.Signing.PrivateKey(rawRepresentation: privateKey)).map { Array($0.publicKey.rawRepresentation) }
    }
}

/// A tenant's chain head next to its latest checkpoint, for the checkpoint pass.
public struct LedgerHeadState: Sendable, Equatable {
    public var tenantID: UUID
    public var sequence: Int64
    public var hash: String
    public var checkpointSequence: Int64?
    public var checkpointAt: Date?

    public init(tenantID: UUID, sequence: Int64, hash: String, checkpointSequence: Int64?, checkpointAt: Date?) {
        self.tenantID = tenantID
        self.sequence = sequence
        self.hash = hash
        self.checkpointSequence = checkpointSequence
        self.checkpointAt = checkpointAt
    }

    /// Due when `records` entries were added since the last checkpoint, or any were and `interval` passed.
    public func isDue(now: Date, records: Int64, interval: TimeInterval) -> Bool {
        let since = sequence - (checkpointSequence ?? 0)
        guard since > 0 else { return false }
        if since >= records { return true }
        guard let checkpointAt else { return true }
        return now.timeIntervalSince(checkpointAt) >= interval
    }
}
