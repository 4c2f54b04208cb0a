/// The roles an API key can hold. A key is either global (no tenant; `admin` only) or bound to one tenant.
public enum Role: String, Sendable, Codable, CaseIterable {
    case admin
    case `operator`
    case approver
    case auditor
    case author
}

/// What a caller may do. Each endpoint requires one permission; roles grant sets of them.
public enum Permission: String, Sendable, CaseIterable {
    /// Create tenants and list every tenant. Global admins only.
    case manageTenants
    /// Read the tenant the key belongs to.
    case readTenant
    /// Create, list and revoke API keys.
    case manageAPIKeys
    /// Read audit events.
    case readAudit
}

extension Role {
    public var permissions: Set<Permission> {
        switch self {
        case .admin: [.readTenant, .manageAPIKeys, .readAudit]
        case .auditor: [.readTenant, .readAudit]
        case .operator, .approver, .author: [.readTenant]
        }
    }
}
