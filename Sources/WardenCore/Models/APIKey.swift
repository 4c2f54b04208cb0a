public import Foundation

/// An administrative API key. Only the SHA-256 hash of the secret is stored; the secret itself is
/// shown once, when the key is created.
public struct APIKey: Sendable, Equatable {
    public var id: UUID
    public var name: String
    public var role: Role
    /// `nil` for a global key.
    public var tenantID: UUID?
    /// The first characters of the secret, to tell keys apart in listings. Not enough to use the key.
    public var prefix: String
    public var keyHash: String
    public var createdAt: Date
    public var createdBy: String?
    public var revokedAt: Date?

    public init(
        id: UUID,
        name: String,
        role: Role,
        tenantID: UUID?,
        prefix: String,
        keyHash: String,
        createdAt: Date,
        createdBy: String?,
        revokedAt: Date? = nil
    ) {
        self.id = id
        self.name = name
        self.role = role
        self.tenantID = tenantID
        self.prefix = prefix
        self.keyHash = keyHash
        self.createdAt = createdAt
        self.createdBy = createdBy
        self.revokedAt = revokedAt
    }

    public var isGlobal: Bool { tenantID == nil }
    public var isRevoked: Bool { revokedAt != nil }
}
