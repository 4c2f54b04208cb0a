import Foundation
import Hummingbird
import WardenCore

/// Resolves `{tenant}` in a path for the caller: an API key that can see the tenant, or an agent
/// token of that tenant. Anyone else gets `404`, so tenant slugs do not leak.
struct TenantScope: Sendable {
    let snapshots: SnapshotStore

    /// The tenant for an API-key caller holding `permission`.
    func tenant(_ context: WardenRequestContext, _ permission: Permission) async throws -> (Tenant, Principal) {
        let slug = try context.parameters.require("tenant")
        let principal = try context.caller()
        // The tenant as the snapshot holds it (kept current by every committed change), so a
        // tenant-scoped call does not read the tenant row each time.
        guard let snapshot = try await snapshots.snapshot(slug: slug), principal.canSee(tenantID: snapshot.tenant.id) else {
            throw WardenError(.tenantNotFound, "tenant '\(slug)' not found")
        }
        try principal.require(permission)
        return (snapshot.tenant, principal)
    }

    /// The tenant for an agent of it, or an API-key caller holding `permission`.
    func tenantForAgentOrKey(_ context: WardenRequestContext, _ permission: Permission) async throws -> (Tenant, String) {
        if let agent = context.agent {
            let slug = try context.parameters.require("tenant")
            let snapshot = try await snapshots.snapshot(tenantID: agent.tenantID)
            guard snapshot.tenant.slug == slug else { throw WardenError(.tenantNotFound, "tenant '\(slug)' not found") }
            return (snapshot.tenant, "agent:\(agent.agentID)")
        }
        let (tenant, principal) = try await tenant(context, permission)
        return (tenant, principal.actor)
    }
}

extension Request {
    /// An optional text field as a 400 when it is not one of `values`.
    func queryEnum<T: RawRepresentable & CaseIterable>(_ name: String, as: T.Type) throws -> T? where T.RawValue == String {
        guard let text = query(name) else { return nil }
        guard let value = T(rawValue: text) else {
            throw WardenError(.invalidField, "\(name) must be one of \(T.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return value
    }

    func queryTime(_ name: String) throws -> Date? {
        try query(name).map { try Self.time($0, field: name) }
    }

    /// An RFC 3339 time given as `field` (query or body), or a 400 naming the field.
    static func time(_ text: String, field: String) throws -> Date {
        guard let date = Timestamp.parse(text) ?? ISO8601DateFormatter().date(from: text) else {
            throw WardenError(.invalidField, "\(field) must be an RFC 3339 time such as 2026-01-31T12:00:00Z")
        }
        return date
    }
}
