public import Foundation
import Synchronization

/// Tenants, API keys and the audit trail of both. Every mutation and its audit event are written
/// in one transaction.
public struct IdentityService: Sendable {
    let store: any Store
    let clock: any WallClock
    let random: any RandomSource
    let keyCache: KeyCache

    public init(store: any Store, clock: any WallClock = SystemClock(), random: any RandomSource = SystemRandomSource()) {
        self.store = store
        self.clock = clock
        self.random = random
        self.keyCache = KeyCache()
    }

    /// Authenticated API keys by secret hash, for a few seconds, so a busy caller does not cost a
    /// database read per request. Any revocation in this process empties it at once; a revocation
    /// made by another replica is honoured here within `lifetime`.
    final class KeyCache: Sendable {
        static let lifetime: TimeInterval = 5
        static let capacity = 10_000
        private struct State {
            var entries: [String: (principal: Principal, at: Date)] = [:]
            /// Bumped by `clear`; a lookup that started before a clear does not fill the cache.
            var generation = 0
        }

        private let state = Mutex(State())

        var generation: Int { state.withLock { $0.generation } }

        func get(_ hash: String, now: Date) -> Principal? {
            state.withLock { state in
                guard let entry = state.entries[hash], now.timeIntervalSince(entry.at) < Self.lifetime, now >= entry.at else { return nil }
                return entry.principal
            }
        }

        func put(_ hash: String, _ principal: Principal, now: Date, generation: Int) {
            state.withLock { state in
                guard state.generation == generation else { return }
                if state.entries.count >= Self.capacity { state.entries.removeAll(keepingCapacity: true) }
                state.entries[hash] = (principal, now)
            }
        }

        func clear() {
            state.withLock { state in
                state.entries.removeAll()
                state.generation += 1
            }
        }
    }

    /// The current time at the precision the database stores, so what is returned equals what is read back.
    func now() -> Date {
        Timestamp.truncated(clock.now())
    }

    // MARK: Authentication

    /// Resolves a bearer secret to its principal; unknown and revoked keys are both `unauthenticated`
    /// so a caller cannot probe which keys once existed.
    public func authenticate(secret: String) async throws -> Principal {
        guard secret.utf8.count <= 512 else { throw WardenError(.unauthenticated, "invalid API key") }
        let hash = APIKeySecret.hash(secret)
        let now = clock.now()
        if let cached = keyCache.get(hash, now: now) { return cached }
        let generation = keyCache.generation
        let key = try await store.read { try await $0.apiKeys.find(hash: hash) }
        guard let key, !key.isRevoked else { throw WardenError(.unauthenticated, "invalid API key") }
        let principal = Principal(key: key)
        keyCache.put(hash, principal, now: now, generation: generation)
        return principal
    }

    // MARK: Bootstrap

    public enum BootstrapOutcome: Sendable, Equatable {
        /// Keys already existed and no token was supplied: nothing to do.
        case alreadyBootstrapped
        /// The supplied `WARDEN_ADMIN_TOKEN` was installed as a global admin key (or already was).
        case suppliedTokenInstalled(keyID: UUID, created: Bool)
        /// No key existed and no token was supplied: this secret was generated; show it once.
        case generated(keyID: UUID, secret: String)
    }

    /// Makes sure a global admin can log in on first start.
    public func bootstrap(adminToken: String?) async throws -> BootstrapOutcome {
        let now = now()
        if let adminToken {
            guard adminToken.utf8.count >= APIKeySecret.minimumSuppliedLength, adminToken.utf8.count <= 512 else {
                throw WardenError(
                    .invalidField,
                    "WARDEN_ADMIN_TOKEN must be \(APIKeySecret.minimumSuppliedLength) to 512 characters long"
                )
            }
            let hash = APIKeySecret.hash(adminToken)
            let newID = UUID()
            return try await store.write { repos in
                if let existing = try await repos.apiKeys.find(hash: hash) {
                    guard existing.isGlobal, existing.role == .admin, !existing.isRevoked else {
                        throw WardenError(.conflict("admin_token_unusable"), "WARDEN_ADMIN_TOKEN matches a revoked or non-admin key")
                    }
                    return .suppliedTokenInstalled(keyID: existing.id, created: false)
                }
                try await Self.installBootstrapKey(
                    id: newID, secret: adminToken, reason: "bootstrap from WARDEN_ADMIN_TOKEN", at: now, in: repos
                )
                return .suppliedTokenInstalled(keyID: newID, created: true)
            }
        }
        let secret = APIKeySecret.generate(using: random)
        let newID = UUID()
        return try await store.write { repos in
            guard try await repos.apiKeys.countAll() == 0 else { return .alreadyBootstrapped }
            try await Self.installBootstrapKey(id: newID, secret: secret, reason: "first start: generated global admin key", at: now, in: repos)
            return .generated(keyID: newID, secret: secret)
        }
    }

    /// Stores a global admin key for `secret` (its hash only) and audits it as done by `system`.
    private static func installBootstrapKey(id: UUID, secret: String, reason: String, at now: Date, in repos: Repositories) async throws {
        try await repos.apiKeys.insert(
            APIKey(
                id: id, name: "bootstrap-admin", role: .admin, tenantID: nil, prefix: APIKeySecret.prefix(of: secret),
                keyHash: APIKeySecret.hash(secret), createdAt: now, createdBy: "system"
            )
        )
        try await repos.audit.append(
            AuditEvent(
                id: UUID(), tenantID: nil, actor: "system", action: "api_key.created", target: "api_key:\(id.uuidString.lowercased())",
                reason: reason, details: ["role": "admin", "scope": "global"], createdAt: now
            )
        )
    }

    // MARK: Tenants

    public func createTenant(
        by principal: Principal, slug: String, name: String?, defaultEffect: DefaultEffect = .deny, reason: String?
    ) async throws -> Tenant {
        try principal.require(.manageTenants)
        try Tenant.validate(slug: slug)
        let name = name ?? slug
        try Tenant.validate(name: name)
        let tenant = Tenant(id: UUID(), slug: slug, name: name, createdAt: now(), defaultEffect: defaultEffect)
        return try await store.write { repos in
            if try await repos.tenants.find(slug: slug) != nil {
                throw WardenError(.tenantExists, "a tenant with slug '\(slug)' already exists")
            }
            try await repos.tenants.insert(tenant)
            try await repos.audit.append(
                AuditEvent(
                    id: UUID(), tenantID: tenant.id, actor: principal.actor, action: "tenant.created",
                    target: "tenant:\(slug)", reason: reason, details: ["name": name, "default_effect": defaultEffect.rawValue],
                    createdAt: tenant.createdAt
                )
            )
            return tenant
        }
    }

    /// Changes the tenant's default effect and notification URL (`.some(nil)` clears it), for tenant
    /// admins and global admins, audited as `tenant.updated`.
    public func updateTenant(
        by principal: Principal, slug: String, defaultEffect: DefaultEffect?, notificationURL: String?? = nil,
        rollout: [String: JSONValue]?? = nil, forceManualApproval: Bool? = nil, approvals: [String: JSONValue]?? = nil, reason: String?
    ) async throws -> Tenant {
        var tenant = try await self.tenant(slug: slug, for: principal)
        guard principal.role == .admin else { throw WardenError(.forbidden, "only an admin may change a tenant's settings") }
        if case .some(.some(let url)) = notificationURL { try Self.validate(notificationURL: url) }
        var details: [String: String] = [:]
        if let defaultEffect, defaultEffect != tenant.defaultEffect {
            details["default_effect"] = defaultEffect.rawValue
            details["previous_default_effect"] = tenant.defaultEffect.rawValue
            tenant.defaultEffect = defaultEffect
        }
        if let notificationURL, notificationURL != tenant.notificationURL {
            // The URL itself may carry a token: the audit trail says only that it changed.
            details["notification_url"] = notificationURL == nil ? "cleared" : "set"
            tenant.notificationURL = notificationURL
        }
        if let rollout {
            // A partial change over the current thresholds; null goes back to the defaults.
            let thresholds = try rollout.map { fields throws(WardenError) in try (tenant.gateThresholds ?? GateThresholds()).merging(fields) }
            if thresholds != tenant.gateThresholds {
                details["rollout"] = thresholds?.description ?? "defaults"
                tenant.gateThresholds = thresholds
            }
        }
        if let forceManualApproval, forceManualApproval != tenant.forceManualApproval {
            details["force_manual_approval"] = forceManualApproval ? "true" : "false"
            tenant.forceManualApproval = forceManualApproval
        }
        if let approvals {
            // A partial change over the current ladder; null goes back to the defaults.
            let settings = try approvals.map { fields throws(WardenError) in try (tenant.approvalSettings ?? ApprovalSettings()).merging(fields) }
            if settings != tenant.approvalSettings {
                details["approvals"] = settings?.description ?? "defaults"
                tenant.approvalSettings = settings
            }
        }
        guard !details.isEmpty else { return tenant }
        let now = now()
        try await store.write { [tenant, details] repos in
            if details["default_effect"] != nil { try await repos.tenants.update(defaultEffect: tenant.defaultEffect, tenantID: tenant.id) }
            if details["notification_url"] != nil { try await repos.tenants.update(notificationURL: tenant.notificationURL, tenantID: tenant.id) }
            if details["rollout"] != nil { try await repos.tenants.update(gateThresholds: tenant.gateThresholds, tenantID: tenant.id) }
            if details["approvals"] != nil { try await repos.tenants.update(approvalSettings: tenant.approvalSettings, tenantID: tenant.id) }
            if details["force_manual_approval"] != nil {
                try await repos.tenants.update(forceManualApproval: tenant.forceManualApproval, tenantID: tenant.id)
            }
            try await repos.audit.append(
                AuditEvent(
                    id: UUID(), tenantID: tenant.id, actor: principal.actor, action: "tenant.updated", target: "tenant:\(slug)",
                    reason: reason, details: details, createdAt: now
                )
            )
        }
        return tenant
    }

    /// An `http` or `https` URL with a host, at most 2,000 characters.
    public static func validate(notificationURL url: String) throws(WardenError) {
        guard url.utf8.count <= 2000, let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
            scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty
        else { throw WardenError(.invalidField, "notification_url must be an http or https URL with a host (at most 2000 characters)") }
    }

    public func listTenants(by principal: Principal, page: PageRequest) async throws -> Page<Tenant> {
        if principal.has(.manageTenants) {
            return try await store.read { try await $0.tenants.list(page) }
        }
        // A tenant key sees exactly its own tenant.
        guard let tenantID = principal.tenantID, page.after == nil else { return Page(items: [], nextCursor: nil) }
        let own = try await store.read { try await $0.tenants.find(id: tenantID) }
        return Page(items: own.map { [$0] } ?? [], nextCursor: nil)
    }

    /// The tenant by slug, if the caller may see it; otherwise `tenant_not_found`.
    public func tenant(slug: String, for principal: Principal) async throws -> Tenant {
        let tenant = try await store.read { try await $0.tenants.find(slug: slug) }
        guard let tenant, principal.canSee(tenantID: tenant.id) else {
            throw WardenError(.tenantNotFound, "tenant '\(slug)' not found")
        }
        return tenant
    }

    // MARK: API keys

    public struct CreatedKey: Sendable {
        public var key: APIKey
        /// The secret, shown to the caller this once and never stored.
        public var secret: String
        public var tenantSlug: String?
    }

    public func createAPIKey(
        by principal: Principal, name: String, role: Role, tenantSlug: String?, reason: String?
    ) async throws -> CreatedKey {
        try principal.require(.manageAPIKeys)
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty, name.count <= 200 else {
            throw WardenError(.invalidField, "name must be 1 to 200 characters")
        }
        var tenant: Tenant?
        if let tenantSlug {
            tenant = try await self.tenant(slug: tenantSlug, for: principal)
        } else if let own = principal.tenantID {
            // A tenant admin's keys belong to its own tenant.
            tenant = try await store.read { try await $0.tenants.find(id: own) }
        }
        if tenant == nil {
            guard principal.isGlobalAdmin else { throw WardenError(.forbidden, "only a global admin may create global keys") }
            guard role == .admin else {
                throw WardenError(.invalidRequest("tenant_required"), "a '\(role.rawValue)' key must belong to a tenant")
            }
        }
        let secret = APIKeySecret.generate(using: random)
        let key = APIKey(
            id: UUID(), name: name, role: role, tenantID: tenant?.id, prefix: APIKeySecret.prefix(of: secret),
            keyHash: APIKeySecret.hash(secret), createdAt: now(), createdBy: principal.actor
        )
        try await store.write { [tenant] repos in
            try await repos.apiKeys.insert(key)
            try await repos.audit.append(
                AuditEvent(
                    id: UUID(), tenantID: tenant?.id, actor: principal.actor, action: "api_key.created",
                    target: "api_key:\(key.id.uuidString.lowercased())", reason: reason,
                    details: ["role": role.rawValue, "name": name, "scope": tenant?.slug ?? "global"], createdAt: key.createdAt
                )
            )
        }
        return CreatedKey(key: key, secret: secret, tenantSlug: tenant?.slug)
    }

    public func listAPIKeys(by principal: Principal, tenantSlug: String?, page: PageRequest) async throws -> Page<APIKey> {
        try principal.require(.manageAPIKeys)
        var tenantID = principal.tenantID
        if let tenantSlug {
            tenantID = try await tenant(slug: tenantSlug, for: principal).id
        }
        let filter = tenantID
        return try await store.read { try await $0.apiKeys.list(tenantID: filter, page) }
    }

    public func revokeAPIKey(by principal: Principal, id: UUID, reason: String?) async throws -> APIKey {
        try principal.require(.manageAPIKeys)
        let now = now()
        let revoked = try await store.write { repos in
            guard var key = try await repos.apiKeys.find(id: id) else {
                throw WardenError(.apiKeyNotFound, "API key '\(id.uuidString.lowercased())' not found")
            }
            let visible = principal.isGlobalAdmin || (key.tenantID != nil && key.tenantID == principal.tenantID)
            guard visible else { throw WardenError(.apiKeyNotFound, "API key '\(id.uuidString.lowercased())' not found") }
            guard !key.isRevoked else { throw WardenError(.apiKeyRevoked, "API key is already revoked") }
            if key.isGlobal, key.role == .admin, try await repos.apiKeys.countActiveGlobal(role: .admin) <= 1 {
                throw WardenError(.lastGlobalAdmin, "cannot revoke the last global admin key; create another first")
            }
            try await repos.apiKeys.markRevoked(id: id, at: now)
            key.revokedAt = now
            try await repos.audit.append(
                AuditEvent(
                    id: UUID(), tenantID: key.tenantID, actor: principal.actor, action: "api_key.revoked",
                    target: "api_key:\(id.uuidString.lowercased())", reason: reason, details: ["name": key.name], createdAt: now
                )
            )
            return key
        }
        // After the commit, so no request can cache the key again as unrevoked.
        keyCache.clear()
        return revoked
    }

    // MARK: Audit

    public func auditEvents(
        by principal: Principal, tenantSlug: String?, action: String?, page: PageRequest
    ) async throws -> Page<AuditEvent> {
        var tenantID: UUID?
        if let tenantSlug {
            tenantID = try await tenant(slug: tenantSlug, for: principal).id
        } else if !principal.isGlobalAdmin {
            throw WardenError(.forbidden, "only a global admin may read global audit events")
        }
        try principal.require(.readAudit)
        let query = AuditQuery(tenantID: tenantID, action: action)
        return try await store.read { try await $0.audit.list(query, page) }
    }
}
