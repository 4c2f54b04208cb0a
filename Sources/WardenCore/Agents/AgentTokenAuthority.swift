public import Crypto
public import Foundation
import JWTKit
import Synchronization

/// Who an agent token speaks for, once verified.
public struct AgentIdentity: Sendable, Equatable {
    public var tokenID: UUID
    public var tenantID: UUID
    public var agentID: String
    public var expiresAt: Date

    public init(tokenID: UUID, tenantID: UUID, agentID: String, expiresAt: Date) {
        self.tokenID = tokenID
        self.tenantID = tenantID
        self.agentID = agentID
        self.expiresAt = expiresAt
    }
}

/// The claims of an agent token: issuer, subject (agent), tenant, token id, issue and expiry times.
struct AgentClaims: JWTPayload {
    var iss: IssuerClaim
    var sub: SubjectClaim
    var tid: String
    var jti: IDClaim
    var iat: IssuedAtClaim
    var exp: ExpirationClaim

    // Expiry is checked against Warden's clock by the authority, so tests can move time.
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// Signs agent tokens with Ed25519 (EdDSA JWTs), verifies them, and keeps the revocation list.
///
/// Verified tokens are cached (bounded), so a busy agent pays for signature verification once;
/// a revocation takes effect at once because the revocation list is checked on every use, cached or not.
public final class AgentTokenAuthority: Sendable {
    public static let issuer = "warden"
    public static let keyPurpose = "agent_tokens"
    static let cacheLimit = 10_000

    private let keys: JWTKeyCollection
    public let keyID: String
    private let revoked = Mutex<Set<UUID>>([])
    private let verified = Mutex<[String: AgentIdentity]>([:])

    /// `privateKey` is the raw 32-byte Ed25519 seed.
    public init(keyID: String, privateKey: [UInt8]) async throws {
        let key = try Curve25519.Signing.PrivateKey(rawRepresentation: privateKey)
        self.keys = JWTKeyCollection()
        self.keyID = keyID
        await keys.add(eddsa: EdDSA.PrivateKey(backing: key), kid: JWKIdentifier(string: keyID))
    }

    public static func generateKey() -> [UInt8] {
        Array(Curve25519.Signing.PrivateKey().rawRepresentation)
    }

    public func sign(_ identity: AgentIdentity, issuedAt: Date) async throws -> String {
        let claims = AgentClaims(
            iss: IssuerClaim(value: Self.issuer),
            sub: SubjectClaim(value: identity.agentID),
            tid: identity.tenantID.uuidString.lowercased(),
            jti: IDClaim(value: identity.tokenID.uuidString.lowercased()),
            iat: IssuedAtClaim(value: issuedAt),
            exp: ExpirationClaim(value: identity.expiresAt)
        )
        return try await keys.sign(claims, kid: JWKIdentifier(string: keyID))
    }

    /// Whether the bearer text has the shape of a JWT (three base64url parts), as opposed to an API key.
    public static func looksLikeToken(_ text: String) -> Bool {
        var dots = 0
        for byte in text.utf8 where byte == UInt8(ascii: ".") { dots += 1 }
        return dots == 2
    }

    /// Verifies signature, issuer, expiry and revocation. Every failure is `unauthenticated`.
    public func verify(_ token: String, now: Date) async throws -> AgentIdentity {
        guard token.utf8.count <= 4096 else { throw WardenError(.unauthenticated, "invalid agent token") }
        let identity: AgentIdentity
        if let cached = verified.withLock({ $0[token] }) {
            identity = cached
        } else {
            let claims: AgentClaims
            do {
                claims = try await keys.verify(token, as: AgentClaims.self)
            } catch {
                throw WardenError(.unauthenticated, "invalid agent token")
            }
            guard claims.iss.value == Self.issuer, let tokenID = UUID(uuidString: claims.jti.value),
                let tenantID = UUID(uuidString: claims.tid)
            else { throw WardenError(.unauthenticated, "invalid agent token") }
            identity = AgentIdentity(tokenID: tokenID, tenantID: tenantID, agentID: claims.sub.value, expiresAt: claims.exp.value)
            verified.withLock { cache in
                if cache.count >= Self.cacheLimit { cache.removeAll(keepingCapacity: true) }
                cache[token] = identity
            }
        }
        guard identity.expiresAt > now else { throw WardenError(.unauthenticated, "agent token has expired") }
        guard !revoked.withLock({ $0.contains(identity.tokenID) }) else {
            throw WardenError(.unauthenticated, "agent token has been revoked")
        }
        return identity
    }

    /// Adds a token id to the revocation list; the next request with that token is refused.
    public func revoke(_ tokenID: UUID) {
        _ = revoked.withLock { $0.insert(tokenID) }
    }

    public func loadRevocations(_ ids: [UUID]) {
        revoked.withLock { $0.formUnion(ids) }
    }
}
