import Crypto
public import Foundation

/// A signed-in console session: who (the API key it was opened with) and the CSRF token its forms
/// carry. Only a hash of the session token is stored; the token lives in the browser's cookie.
public struct ConsoleSession: Sendable, Equatable {
    public var tokenHash: String
    public var apiKeyID: UUID
    public var csrf: String
    public var createdAt: Date
    public var expiresAt: Date

    public init(tokenHash: String, apiKeyID: UUID, csrf: String, createdAt: Date, expiresAt: Date) {
        self.tokenHash = tokenHash
        self.apiKeyID = apiKeyID
        self.csrf = csrf
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }
}

public protocol ConsoleSessionRepository: Sendable {
    func insert(_ session: ConsoleSession) async throws
    func find(tokenHash: String) async throws -> ConsoleSession?
    func delete(tokenHash: String) async throws
    /// Removes sessions that expired before `now`; returns how many.
    func deleteExpired(before now: Date) async throws -> Int
}

/// Console sign-in and sessions. A session acts with its API key's role and tenant, checked again on
/// every request: revoking the key ends its sessions.
public struct ConsoleSessionService: Sendable {
    let store: any Store
    let identity: IdentityService
    let clock: any WallClock
    let random: any RandomSource
    public static let lifetime: TimeInterval = 12 * 3600

    public init(store: any Store, identity: IdentityService, clock: any WallClock, random: any RandomSource = SystemRandomSource()) {
        self.store = store
        self.identity = identity
        self.clock = clock
        self.random = random
    }

    /// Signs in with an API key: a new session (its token for the cookie, and its CSRF token), audited.
    public func signIn(key secret: String) async throws -> (token: String, session: ConsoleSession, principal: Principal) {
        let trimmed = secret.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw WardenError(.unauthenticated, "enter an API key") }
        let principal = try await identity.authenticate(secret: trimmed)
        let token = "wcs_" + Self.randomText(random, bytes: 32)
        let now = Timestamp.truncated(clock.now())
        let session = ConsoleSession(
            tokenHash: Self.hash(token), apiKeyID: principal.keyID, csrf: Self.randomText(random, bytes: 24), createdAt: now,
            expiresAt: now.addingTimeInterval(Self.lifetime))
        try await store.write { repos in
            _ = try await repos.consoleSessions.deleteExpired(before: now)
            try await repos.consoleSessions.insert(session)
            try await repos.audit.append(
                AuditEvent(
                    id: UUID.v7(at: now), tenantID: principal.tenantID, actor: principal.actor, action: "console.signed_in",
                    target: "api_key:\(principal.keyID.uuidString.lowercased())", reason: nil, details: ["key_name": principal.keyName],
                    createdAt: now))
        }
        return (token, session, principal)
    }

    /// The session of a cookie's token and whom it acts as; `nil` when unknown, expired, or its key
    /// was revoked since.
    public func resolve(token: String) async throws -> (session: ConsoleSession, principal: Principal)? {
        guard token.hasPrefix("wcs_"), token.utf8.count <= 100 else { return nil }
        let now = clock.now()
        let found = try await store.read { repos -> (ConsoleSession, APIKey)? in
            guard let session = try await repos.consoleSessions.find(tokenHash: Self.hash(token)) else { return nil }
            guard let key = try await repos.apiKeys.find(id: session.apiKeyID) else { return nil }
            return (session, key)
        }
        guard let (session, key) = found, session.expiresAt > now, !key.isRevoked else { return nil }
        return (session, Principal(key: key))
    }

    /// Ends the session (sign-out), audited.
    public func signOut(token: String, principal: Principal) async throws {
        let now = Timestamp.truncated(clock.now())
        try await store.write { repos in
            try await repos.consoleSessions.delete(tokenHash: Self.hash(token))
            try await repos.audit.append(
                AuditEvent(
                    id: UUID.v7(at: now), tenantID: principal.tenantID, actor: principal.actor, action: "console.signed_out",
                    target: "api_key:\(principal.keyID.uuidString.lowercased())", reason: nil, createdAt: now))
        }
    }

    static func hash(_ token: String) -> String {
        SHA256.hash(data: Data(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    public static func randomText(_ random: any RandomSource, bytes: Int) -> String {
        Data(random.bytes(bytes)).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
