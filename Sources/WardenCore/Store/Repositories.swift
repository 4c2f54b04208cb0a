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
    func update(defaultEffect: DefaultEffect, tenantID: UUID) async throws
    func update(notificationURL: String?, tenantID: UUID) async throws
    func update(gateThresholds: GateThresholds?, tenantID: UUID) async throws
    func update(forceManualApproval: Bool, tenantID: UUID) async throws
    func update(approvalSettings: ApprovalSettings?, tenantID: UUID) async throws
    func update(escalationPaused: Bool, webhooksPaused: Bool, tenantID: UUID) async throws
    /// The tenants whose escalation pass is paused.
    func escalationPausedIDs() async throws -> Set<UUID>
    func update(limits: TenantLimits?, tenantID: UUID) async throws
    func update(panic: PanicState?, tenantID: UUID) async throws
    /// Takes the tenant's next event sequence number (locks the tenant row until the transaction ends).
    func nextEventSequence(tenantID: UUID) async throws -> Int64
}

public protocol AgentRepository: Sendable {
    /// Throws `agent_exists` if the tenant already has an agent with this id.
    func insert(_ agent: Agent) async throws
    func find(tenantID: UUID, agentID: String) async throws -> Agent?
    func all(tenantID: UUID) async throws -> [Agent]
    func list(tenantID: UUID, _ page: PageRequest) async throws -> Page<Agent>
}

public protocol AgentTokenRepository: Sendable {
    func insert(_ token: AgentToken) async throws
    func find(id: UUID) async throws -> AgentToken?
    func markRevoked(id: UUID, at: Date) async throws
    /// Ids of revoked tokens that have not expired yet: the only ones a revocation list must hold.
    func revokedUnexpired(now: Date) async throws -> [UUID]
}

public protocol ToolRepository: Sendable {
    /// Throws `tool_exists` if the tenant already has a tool with this name.
    func insert(_ tool: Tool) async throws
    func update(_ tool: Tool) async throws
    func find(tenantID: UUID, name: String) async throws -> Tool?
    func all(tenantID: UUID) async throws -> [Tool]
    func list(tenantID: UUID, _ page: PageRequest) async throws -> Page<Tool>
    func acks(toolID: UUID) async throws -> [AdapterAck]
    func acks(toolIDs: [UUID]) async throws -> [UUID: [AdapterAck]]
    /// Records the adapter's latest acknowledgement, replacing an older one.
    func upsert(_ ack: AdapterAck) async throws
}

public protocol EventRepository: Sendable {
    func insert(_ event: TenantEvent) async throws
    /// Events with a sequence number above `after`, oldest first.
    func list(tenantID: UUID, after: Int64, limit: Int) async throws -> [TenantEvent]
    /// The tenant's last event sequence number (0 before the first).
    func latestSequence(tenantID: UUID) async throws -> Int64
}

public protocol DecisionRepository: Sendable {
    /// The cost of the tenant's decisions not denied since `since`, per agent (for daily budgets).
    func spend(tenantID: UUID, since: Date) async throws -> [String: Double]
    /// Inserts the records; a record whose id already exists is skipped, so a retried batch never logs twice.
    func insert(_ records: [DecisionRecord]) async throws
    /// The same, with each record's ledger item already built (`ledger[i]` is `records[i]`'s), so
    /// the work is done by the callers rather than the one writer.
    func insert(_ records: [DecisionRecord], ledger: [LedgerItem]) async throws
    func find(tenantID: UUID, id: UUID) async throws -> DecisionRecord?
    func list(_ query: DecisionQuery, _ page: PageRequest) async throws -> Page<DecisionRecord>
    func count(tenantID: UUID) async throws -> Int
    /// Decisions since `since` by effect, and how many the policy failed to make (the console's overview).
    func summary(tenantID: UUID, since: Date) async throws -> DecisionSummary
    /// Decisions since `since` per UTC minute (`2026-11-24T05:17`) and effect, for the console's chart.
    func perMinute(tenantID: UUID, since: Date) async throws -> [String: DecisionSummary]
    /// Per cohort, the decisions of the tenant since `since` (canary: those of `canaryBundleID` only).
    func cohortStats(tenantID: UUID, canaryBundleID: UUID, since: Date) async throws -> [Cohort: CohortStats]
    /// The decisions one bundle made since `since`.
    func stats(tenantID: UUID, bundleID: UUID, since: Date) async throws -> CohortStats
}

public protocol BundleRepository: Sendable {
    /// Throws `bundle_version_exists` if the tenant already has a bundle with this version.
    func insert(_ bundle: PolicyBundle) async throws
    func update(_ bundle: PolicyBundle) async throws
    func find(tenantID: UUID, id: UUID) async throws -> PolicyBundle?
    func find(tenantID: UUID, version: SemanticVersion) async throws -> PolicyBundle?
    func active(tenantID: UUID) async throws -> PolicyBundle?
    /// The bundle in a canary stage, if any (one at a time).
    func canary(tenantID: UUID) async throws -> PolicyBundle?
    /// Every tenant's canary bundle, for the canary monitor.
    func canaries() async throws -> [PolicyBundle]
    func insert(_ transition: BundleTransition) async throws
    /// Oldest first.
    func transitions(tenantID: UUID, bundleID: UUID) async throws -> [BundleTransition]
    /// Every version the tenant has used, for version rules.
    func versions(tenantID: UUID) async throws -> [SemanticVersion]
    /// Newest first.
    func list(_ query: BundleQuery, _ page: PageRequest) async throws -> Page<PolicyBundle>
}

/// Private keys Warden signs with (agent tokens). See docs: kept in the database so replicas share them.
public protocol SigningKeyRepository: Sendable {
    /// The key for `purpose` as (key id, raw private key bytes).
    func find(purpose: String) async throws -> (id: String, key: [UInt8])?
    /// Replaces the purpose's key with a new one, keeping the old key's public half as retired
    /// (`publicKey` of the old private key, computed by the caller).
    func rotate(purpose: String, to id: String, key: [UInt8], at date: Date, retiredPublicKey: [UInt8], by actor: String) async throws
    /// Retired keys: id, purpose, raw public key, created and retired times.
    func retired() async throws -> [(id: String, purpose: String, publicKey: [UInt8], createdAt: Date, retiredAt: Date)]
    /// Every stored key: purpose, id, raw private key, creation time.
    func all() async throws -> [(purpose: String, id: String, key: [UInt8], createdAt: Date)]
    /// Inserts the key unless one exists for the purpose; returns whichever is stored.
    func insertIfAbsent(purpose: String, id: String, key: [UInt8], at: Date) async throws -> (id: String, key: [UInt8])
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
    public var agents: any AgentRepository
    public var agentTokens: any AgentTokenRepository
    public var tools: any ToolRepository
    public var events: any EventRepository
    public var decisions: any DecisionRepository
    public var signingKeys: any SigningKeyRepository
    public var bundles: any BundleRepository
    public var incidents: any IncidentRepository
    public var settings: any SystemSettingRepository
    public var approvals: any ApprovalRepository
    public var webhooks: any WebhookDeliveryRepository
    public var runs: any RunRepository
    public var ledger: any LedgerRepository
    public var provenance: any ProvenanceRepository
    public var notifications: any NotificationRepository
    public var consoleSessions: any ConsoleSessionRepository

    public init(
        tenants: any TenantRepository, apiKeys: any APIKeyRepository, audit: any AuditEventRepository, agents: any AgentRepository,
        agentTokens: any AgentTokenRepository, tools: any ToolRepository, events: any EventRepository, decisions: any DecisionRepository,
        signingKeys: any SigningKeyRepository, bundles: any BundleRepository, incidents: any IncidentRepository,
        settings: any SystemSettingRepository, approvals: any ApprovalRepository, webhooks: any WebhookDeliveryRepository,
        runs: any RunRepository, ledger: any LedgerRepository, provenance: any ProvenanceRepository,
        notifications: any NotificationRepository, consoleSessions: any ConsoleSessionRepository
    ) {
        self.consoleSessions = consoleSessions
        self.notifications = notifications
        self.provenance = provenance
        self.ledger = ledger
        self.runs = runs
        self.webhooks = webhooks
        self.approvals = approvals
        self.settings = settings
        self.incidents = incidents
        self.tenants = tenants
        self.apiKeys = apiKeys
        self.audit = audit
        self.agents = agents
        self.agentTokens = agentTokens
        self.tools = tools
        self.events = events
        self.decisions = decisions
        self.signingKeys = signingKeys
        self.bundles = bundles
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

/// Incidents, newest first.
public protocol IncidentRepository: Sendable {
    /// Inserts the incident with the tenant's next number for its year (`INC-YYYY-NNNN`), which it returns.
    func insert(_ incident: Incident) async throws -> Incident
    func list(tenantID: UUID, _ page: PageRequest) async throws -> Page<Incident>
}

/// System-wide settings, as JSON values by key.
public protocol SystemSettingRepository: Sendable {
    func get(_ key: String) async throws -> JSONValue?
    func set(_ key: String, _ value: JSONValue, by actor: String, at date: Date) async throws
}

/// Approval requests, newest first.
public protocol ApprovalRepository: Sendable {
    func insert(_ request: ApprovalRequest) async throws
    func update(_ request: ApprovalRequest) async throws
    func find(tenantID: UUID, id: UUID) async throws -> ApprovalRequest?
    /// The request, locked until the transaction ends (PostgreSQL; SQLite has one writer), so two
    /// votes at once cannot overwrite each other.
    func findForUpdate(tenantID: UUID, id: UUID) async throws -> ApprovalRequest?
    func find(tenantID: UUID, idempotencyKey: String) async throws -> ApprovalRequest?
    func list(tenantID: UUID, status: ApprovalStatus?, _ page: PageRequest) async throws -> Page<ApprovalRequest>
    /// Unresolved requests (pending or escalated) created before `before`, of one tenant or all, oldest
    /// first, locked until the transaction ends; with `skipLocked`, rows another transaction holds
    /// (another replica's escalation pass, a vote) are left out instead of waited for (PostgreSQL).
    func unresolved(tenantID: UUID?, createdBefore before: Date, limit: Int, skipLocked: Bool) async throws -> [ApprovalRequest]
    /// How many requests are pending or escalated, in all tenants.
    func unresolvedCount() async throws -> Int
    /// Counts one webhook attempt for the request and keeps its HTTP status (0: no answer).
    func recordWebhookAttempt(id: UUID, status: Int) async throws
}

/// A tenant's decisions over a window, by effect.
public struct DecisionSummary: Sendable, Equatable {
    public var allow = 0
    public var deny = 0
    public var requireApproval = 0
    /// Denied because the policy failed (`policy_error`, `policy_unavailable`).
    public var errors = 0
    public var total: Int { allow + deny + requireApproval }

    public init(allow: Int = 0, deny: Int = 0, requireApproval: Int = 0, errors: Int = 0) {
        self.allow = allow
        self.deny = deny
        self.requireApproval = requireApproval
        self.errors = errors
    }
}
