public import Foundation

/// The authenticated caller of a request.
public struct Principal: Sendable, Equatable {
    public var keyID: UUID
    public var keyName: String
    public var role: Role
    /// `nil` for a global key.
    public var tenantID: UUID?

    public init(keyID: UUID, keyName: String, role: Role, tenantID: UUID?) {
        self.keyID = keyID
        self.keyName = keyName
        self.role = role
        self.tenantID = tenantID
    }

    public init(key: APIKey) {
        self.init(keyID: key.id, keyName: key.name, role: key.role, tenantID: key.tenantID)
    }

    /// A global admin may do anything in any tenant.
    public var isGlobalAdmin: Bool { tenantID == nil && role == .admin }

    /// The actor string written to audit events.
    public var actor: String { "api_key:\(keyID.uuidString.lowercased())" }

    public func has(_ permission: Permission) -> Bool {
        if isGlobalAdmin { return true }
        if permission == .manageTenants { return false }
        return role.permissions.contains(permission)
    }

    /// Whether the caller can see the tenant at all. Callers that cannot see a tenant get
    /// `404`, not `403`, so tenant slugs do not leak across tenants.
    public func canSee(tenantID: UUID) -> Bool {
        isGlobalAdmin || self.tenantID == tenantID
    }

    /// Throws `forbidden` unless the caller holds `permission`.
    public func require(_ permission: Permission) throws(WardenError) {
        guard has(permission) else {
            throw WardenError(.forbidden, "role '\(role.rawValue)' may not do this (needs \(permission.rawValue))")
        }
    }
}
