public import Foundation

/// A record of one mutating action: who did what to which target, why, and when.
public struct AuditEvent: Sendable, Equatable {
    public var id: UUID
    /// `nil` for a global action (for example creating a global key).
    public var tenantID: UUID?
    /// `api_key:<id>` for a key, `system` for Warden itself.
    public var actor: String
    /// A stable dotted name, such as `tenant.created`.
    public var action: String
    /// What was acted on, such as `tenant:acme` or `api_key:<id>`.
    public var target: String
    public var reason: String?
    /// Extra non-secret facts about the action.
    public var details: [String: String]
    public var createdAt: Date

    public init(
        id: UUID,
        tenantID: UUID?,
        actor: String,
        action: String,
        target: String,
        reason: String?,
        details: [String: String] = [:],
        createdAt: Date
    ) {
        self.id = id
        self.tenantID = tenantID
        self.actor = actor
        self.action = action
        self.target = target
        self.reason = reason
        self.details = details
        self.createdAt = createdAt
    }
}
