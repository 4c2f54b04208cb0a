public import Foundation

/// Tenants, by id or slug.
public protocol TenantRepository: Sendable {
    /// Inserts the tenant; throws `tenant_exists` if the slug is taken.
    func insert(_ tenant: Tenant) async throws
    func find(slug: String) async throws -> Tenant?
    func find(id: UUID) async throws -> Tenant?
    /// Tenants ordered by creation, oldest first.
    func list(_ page: PageRequest) async throws -> Page<Tenant>
    /// The slugs of the given tenants, in one query; unknown ids are left out.
    func slugs(ids: some Collection<UUID> & Sendable) async throws -> [UUID: String]
}

public protocol APIKeyRepository: Sendable {
    func insert(_ key: APIKey) async throws
    func find(id: UUID) async throws -> APIKey?
    /// Looks a key up by the hash of its secret, revoked or not.
    func find(hash: String) async throws -> APIKey?
    /// Keys ordered by creation, oldest first; `tenantID` filters to one tenant.
    func list(tenantID: UUID?, _ page: PageRequest) async throws -> Page<APIKey>
    func markRevoked(id: UUID, at: Date) async throws
    /// How many unrevoked keys have the given role and no tenant.
    func countActiveGlobal(role: Role) async throws -> Int
    func countAll() async throws -> Int
}

/// Filters for audit listings.
public struct AuditQuery: Sendable, Equatable {
    /// Only events of this tenant. `nil` lists every event (global admins only).
    public var tenantID: UUID?
    public var action: String?

    public init(tenantID: UUID? = nil, action: String? = nil) {
        self.tenantID = tenantID
        self.action = action
    }
}

public protocol AuditEventRepository: Sendable {
    func append(_ event: AuditEvent) async throws
    /// Events newest first.
    func list(_ query: AuditQuery, _ page: PageRequest) async throws -> Page<AuditEvent>
}

/// The repositories bound to one database session (one transaction when writing).
public struct Repositories: Sendable {
    public var tenants: any TenantRepository
    public var apiKeys: any APIKeyRepository
    public var audit: any AuditEventRepository

    public init(tenants: any TenantRepository, apiKeys: any APIKeyRepository, audit: any AuditEventRepository) {
        self.tenants = tenants
        self.apiKeys = apiKeys
        self.audit = audit
    }
}

/// The storage behind Warden. `write` runs its body in one transaction: everything in it lands or
/// nothing does, so a mutation and its audit event are never separated.
///
/// Use only the `Repositories` passed to a body; never call the store again from inside one. On
/// SQLite every session shares one connection behind a lock that is not reentrant, so a nested call
/// would wait for itself.
public protocol Store: Sendable {
    func read<Result: Sendable>(_ body: @escaping @Sendable (Repositories) async throws -> Result) async throws -> Result
    func write<Result: Sendable>(_ body: @escaping @Sendable (Repositories) async throws -> Result) async throws -> Result
    /// Throws when the database cannot be reached.
    func ping() async throws
}
