public import Foundation

/// An agent of a tenant: the subject of decisions.
public struct Agent: Sendable, Equatable {
    public var id: UUID
    public var tenantID: UUID
    /// The agent's name within its tenant, as it appears in tokens, decisions and policies.
    public var agentID: String
    public var roles: [String]
    public var createdAt: Date
    public var createdBy: String

    public init(id: UUID, tenantID: UUID, agentID: String, roles: [String], createdAt: Date, createdBy: String) {
        self.id = id
        self.tenantID = tenantID
        self.agentID = agentID
        self.roles = roles
        self.createdAt = createdAt
        self.createdBy = createdBy
    }
}

/// A token issued to an agent. The token itself is a signed JWT and never stored; this row lets it be revoked.
public struct AgentToken: Sendable, Equatable {
    public var id: UUID
    public var tenantID: UUID
    public var agentID: String
    public var expiresAt: Date
    public var createdAt: Date
    public var createdBy: String
    public var revokedAt: Date?

    public init(id: UUID, tenantID: UUID, agentID: String, expiresAt: Date, createdAt: Date, createdBy: String, revokedAt: Date? = nil) {
        self.id = id
        self.tenantID = tenantID
        self.agentID = agentID
        self.expiresAt = expiresAt
        self.createdAt = createdAt
        self.createdBy = createdBy
        self.revokedAt = revokedAt
    }
}

extension Agent {
    public static func validate(roles: [String]) throws(WardenError) {
        guard roles.count <= 50 else { throw WardenError(.invalidField, "roles may list at most 50 roles") }
        for role in roles { try Tool.validate(identifier: role, field: "roles[]") }
    }
}
