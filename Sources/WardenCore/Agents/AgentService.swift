public import Foundation

/// Agents and their tokens. Issued tokens are signed JWTs; only their ids are stored, so they can be revoked.
public struct AgentService: Sendable {
    public static let defaultTokenLifetime: TimeInterval = 30 * 24 * 3600
    public static let tokenLifetimes: ClosedRange<TimeInterval> = 60...(366 * 24 * 3600)

    let store: any Store
    let snapshots: SnapshotStore
    public let authority: AgentTokenAuthority
    let clock: any WallClock

    public init(store: any Store, snapshots: SnapshotStore, authority: AgentTokenAuthority, clock: any WallClock) {
        self.store = store
        self.snapshots = snapshots
        self.authority = authority
        self.clock = clock
    }

    func now() -> Date { Timestamp.truncated(clock.now()) }

    public func create(by principal: Principal, tenant: Tenant, agentID: String, roles: [String], reason: String?) async throws -> Agent {
        try principal.require(.manageAgents)
        try Tool.validate(identifier: agentID, field: "agent_id")
        try Agent.validate(roles: roles)
        let agent = Agent(id: UUID(), tenantID: tenant.id, agentID: agentID, roles: roles, createdAt: now(), createdBy: principal.actor)
        try await store.write { repos in
            if try await repos.agents.find(tenantID: tenant.id, agentID: agentID) != nil {
                throw WardenError(.agentExists, "agent '\(agentID)' already exists in tenant '\(tenant.slug)'")
            }
            try await repos.agents.insert(agent)
            try await repos.audit.append(
                AuditEvent(
                    id: UUID(), tenantID: tenant.id, actor: principal.actor, action: "agent.created", target: "agent:\(agentID)",
                    reason: reason, details: ["roles": roles.joined(separator: ",")], createdAt: agent.createdAt
                )
            )
        }
        snapshots.apply(agent)
        return agent
    }

    public func list(by principal: Principal, tenant: Tenant, page: PageRequest) async throws -> Page<Agent> {
        try principal.require(.readTools)
        return try await store.read { try await $0.agents.list(tenantID: tenant.id, page) }
    }

    public func get(by principal: Principal, tenant: Tenant, agentID: String) async throws -> Agent {
        try principal.require(.readTools)
        guard let agent = try await store.read({ try await $0.agents.find(tenantID: tenant.id, agentID: agentID) }) else {
            throw WardenError(.agentNotFound, "agent '\(agentID)' not found in tenant '\(tenant.slug)'")
        }
        return agent
    }

    public struct IssuedToken: Sendable {
        public var token: String
        public var record: AgentToken
    }

    public func issueToken(
        by principal: Principal, tenant: Tenant, agentID: String, lifetime: TimeInterval?, reason: String?
    ) async throws -> IssuedToken {
        try principal.require(.manageAgents)
        let lifetime = lifetime ?? Self.defaultTokenLifetime
        guard Self.tokenLifetimes.contains(lifetime) else {
            throw WardenError(.invalidField, "ttl_seconds must be from 60 to \(Int(Self.tokenLifetimes.upperBound))")
        }
        let now = now()
        // JWT expiry has one-second precision; keep the stored expiry equal to the token's.
        let expiresAt = Date(timeIntervalSince1970: (now.timeIntervalSince1970 + lifetime).rounded(.down))
        let record = AgentToken(id: UUID(), tenantID: tenant.id, agentID: agentID, expiresAt: expiresAt, createdAt: now, createdBy: principal.actor)
        try await store.write { repos in
            guard try await repos.agents.find(tenantID: tenant.id, agentID: agentID) != nil else {
                throw WardenError(.agentNotFound, "agent '\(agentID)' not found in tenant '\(tenant.slug)'")
            }
            try await repos.agentTokens.insert(record)
            try await repos.audit.append(
                AuditEvent(
                    id: UUID(), tenantID: tenant.id, actor: principal.actor, action: "agent_token.issued",
                    target: "agent_token:\(record.id.uuidString.lowercased())", reason: reason,
                    details: ["agent": agentID, "expires_at": Timestamp.format(expiresAt)], createdAt: now
                )
            )
        }
        let token = try await authority.sign(
            AgentIdentity(tokenID: record.id, tenantID: tenant.id, agentID: agentID, expiresAt: expiresAt), issuedAt: now
        )
        return IssuedToken(token: token, record: record)
    }

    /// Revokes a token: durable first, then the next request with it is refused on this replica.
    public func revokeToken(by principal: Principal, tenant: Tenant, tokenID: UUID, reason: String?) async throws -> AgentToken {
        try principal.require(.manageAgents)
        let now = now()
        let token = try await store.write { repos in
            guard var token = try await repos.agentTokens.find(id: tokenID), token.tenantID == tenant.id else {
                throw WardenError(.tokenNotFound, "token '\(tokenID.uuidString.lowercased())' not found in tenant '\(tenant.slug)'")
            }
            guard token.revokedAt == nil else { throw WardenError(.tokenRevoked, "token is already revoked") }
            try await repos.agentTokens.markRevoked(id: tokenID, at: now)
            token.revokedAt = now
            try await repos.audit.append(
                AuditEvent(
                    id: UUID(), tenantID: tenant.id, actor: principal.actor, action: "agent_token.revoked",
                    target: "agent_token:\(tokenID.uuidString.lowercased())", reason: reason, details: ["agent": token.agentID], createdAt: now
                )
            )
            return token
        }
        authority.revoke(tokenID)
        snapshots.announce(.revocations)
        return token
    }

    /// Verifies an agent token against the clock and the revocation list.
    public func authenticate(token: String) async throws -> AgentIdentity {
        try await authority.verify(token, now: clock.now())
    }

    /// Loads the revocation list (at start).
    public func loadRevocations() async throws {
        let now = clock.now()
        let ids = try await store.read { try await $0.agentTokens.revokedUnexpired(now: now) }
        authority.loadRevocations(ids)
    }
}
