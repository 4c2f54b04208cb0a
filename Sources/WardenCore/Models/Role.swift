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
    /// Create agents and issue and revoke their tokens.
    case manageAgents
    /// Read tools, agents and their state; follow the event stream.
    case readTools
    /// Register and change tools.
    case manageTools
    /// Kill and restore tools.
    case operateKillSwitch
    /// Ask for a decision on an agent's behalf (agents use their own tokens).
    case decide
    /// Read the decision log.
    case readDecisions
    /// Read policy bundles.
    case readBundles
    /// Create and edit draft bundles.
    case authorBundles
    /// Make a bundle the deciding one: promote it through canary to active, roll it back.
    case activateBundles
    /// Approve a draft bundle written by someone else.
    case approveBundles
    /// Read approval requests.
    case readApprovals
    /// Approve or reject approval requests (not one's own).
    case decideApprovals
}

extension Role {
    public var permissions: Set<Permission> {
        switch self {
        case .admin:
            [
                .readTenant, .manageAPIKeys, .readAudit, .manageAgents, .readTools, .manageTools, .operateKillSwitch, .decide, .readDecisions,
                .readBundles, .authorBundles, .activateBundles, .approveBundles, .readApprovals, .decideApprovals,
            ]
        case .operator:
            [.readTenant, .readTools, .manageTools, .operateKillSwitch, .readDecisions, .readBundles, .activateBundles, .readApprovals]
        case .auditor: [.readTenant, .readAudit, .readTools, .readDecisions, .readBundles, .readApprovals]
        case .approver: [.readTenant, .readTools, .readDecisions, .readBundles, .approveBundles, .readApprovals, .decideApprovals]
        case .author: [.readTenant, .readTools, .readDecisions, .readBundles, .authorBundles, .readApprovals]
        }
    }
}
