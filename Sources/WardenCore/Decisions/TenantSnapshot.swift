public import Foundation
import Metrics
public import Rego
import Synchronization

/// Everything the hot path needs to decide for one tenant, immutable. Writers build a new snapshot
/// and swap it in; a decision reads one snapshot and never the database.
public struct TenantSnapshot: Sendable {
    public struct ToolEntry: Sendable {
        public var tool: Tool
        public var capabilities: Set<String>
        /// `input.tool` for policies, built once.
        public var policyValue: Value

        public init(_ tool: Tool) {
            self.tool = tool
            self.capabilities = Set(tool.capabilities)
            self.policyValue = PolicyInput.value(of: tool)
        }
    }

    public var tenant: Tenant {
        didSet { tenantPolicyValue = PolicyInput.value(of: tenant) }
    }
    public var tools: [String: ToolEntry]
    public var agents: [String: Agent] {
        didSet { agentPolicyValues = agents.mapValues(PolicyInput.value(of:)) }
    }
    /// `input.tenant` and each agent's `input.agent`, built once per change.
    public private(set) var tenantPolicyValue: Value
    public private(set) var agentPolicyValues: [String: Value]
    /// The active bundle, compiled; `nil` while the tenant has none (its default effect decides).
    public var bundle: CompiledBundle?
    /// The bundle in canary and the share (percent) of decisions it makes, if one runs.
    public var canary: (bundle: CompiledBundle, share: Int)?
    /// Ids of the tenant's cancelled runs: a decision naming one is denied (`run_cancelled`).
    public var cancelledRuns: Set<String> = []

    public init(tenant: Tenant, tools: [Tool], agents: [Agent], bundle: CompiledBundle? = nil, canary: (CompiledBundle, Int)? = nil) {
        self.tenant = tenant
        self.canary = canary.map { (bundle: $0.0, share: $0.1) }
        self.tenantPolicyValue = PolicyInput.value(of: tenant)
        self.bundle = bundle
        self.tools = Dictionary(tools.map { ($0.name, ToolEntry($0)) }, uniquingKeysWith: { first, _ in first })
        let byID = Dictionary(agents.map { ($0.agentID, $0) }, uniquingKeysWith: { first, _ in first })
        self.agents = byID
        self.agentPolicyValues = byID.mapValues(PolicyInput.value(of:))
    }
}

extension TenantSnapshot {
    /// The bundle that decides for `agentID`, and the cohort while a canary runs: the canary bundle
    /// for agents whose stable bucket (0–99, from tenant and agent) is below its share, the active
    /// bundle (or none) for the rest. The same agent stays on the same side for the whole stage.
    public func deciding(for agentID: String) -> (bundle: CompiledBundle?, cohort: Cohort?) {
        guard let canary else { return (bundle, nil) }
        return Self.bucket(tenantID: tenant.id, agentID: agentID) < canary.share ? (canary.bundle, .canary) : (bundle, .baseline)
    }

    /// A stable bucket 0–99 for (tenant, agent): FNV-1a over the tenant id and the agent id. Not Swift's
    /// `Hasher`, which is seeded per process: every replica must route an agent the same way.
    public static func bucket(tenantID: UUID, agentID: String) -> Int {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ byte: UInt8) {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        withUnsafeBytes(of: tenantID.uuid) { for byte in $0 { mix(byte) } }
        mix(0)
        for byte in agentID.utf8 { mix(byte) }
        return Int(hash % 100)
    }
}

/// The current snapshot of every tenant this process has served.
///
/// Reads take a lock only long enough to copy one value out of a dictionary. Committed changes are
/// applied to the cached snapshot directly (no database read, so they cannot fail after the commit).
/// A load from the database that raced with such a change is discarded and read again, so a stale
/// read never replaces a newer state.
public final class SnapshotStore: Sendable {
    private struct State {
        var snapshots: [UUID: TenantSnapshot] = [:]
        var slugs: [String: UUID] = [:]
        /// Bumped by every applied change; a load installs only if it did not change meanwhile.
        var generations: [UUID: Int] = [:]
        /// What the bundle gauges last showed, per tenant.
        var shown: [UUID: BundleGauges] = [:]
    }

    private let store: any Store
    private let state = Mutex(State())
    /// Told of every change applied here, so other replicas can reload (see `announce`).
    private let listener = Mutex<(@Sendable (Change) -> Void)?>(nil)

    /// What changed, for other replicas: a tenant's state (tools, agents, bundles, settings, runs), or
    /// the list of revoked agent tokens.
    public enum Change: Sendable, Equatable {
        case tenant(UUID)
        case revocations
    }

    /// Sets who hears of changes applied on this replica (the replica link).
    public func onChange(_ listener: @escaping @Sendable (Change) -> Void) {
        self.listener.withLock { $0 = listener }
    }

    /// Tells the listener of a change committed on this replica.
    public func announce(_ change: Change) {
        listener.withLock { $0 }?(change)
    }

    public init(store: any Store) {
        self.store = store
    }

    /// The tenant's snapshot, loaded from the database on first use.
    public func snapshot(tenantID: UUID) async throws -> TenantSnapshot {
        if let cached = state.withLock({ $0.snapshots[tenantID] }) { return cached }
        return try await refresh(tenantID: tenantID)
    }

    public func snapshot(slug: String) async throws -> TenantSnapshot? {
        if let id = state.withLock({ $0.slugs[slug] }) { return try await snapshot(tenantID: id) }
        guard let tenant = try await store.read({ try await $0.tenants.find(slug: slug) }) else { return nil }
        return try await snapshot(tenantID: tenant.id)
    }

    /// The cached snapshot, without loading.
    public func cached(tenantID: UUID) -> TenantSnapshot? {
        state.withLock { $0.snapshots[tenantID] }
    }

    /// Reads the tenant's snapshot from the database and installs it.
    @discardableResult
    public func refresh(tenantID: UUID) async throws -> TenantSnapshot {
        for _ in 0..<10 {
            let generation = state.withLock { $0.generations[tenantID, default: 0] }
            let loaded = try await store.read { repos -> TenantSnapshot? in
                guard let tenant = try await repos.tenants.find(id: tenantID) else { return nil }
                let tools = try await repos.tools.all(tenantID: tenantID)
                let agents = try await repos.agents.all(tenantID: tenantID)
                let active = try await repos.bundles.active(tenantID: tenantID)
                let canary = try await repos.bundles.canary(tenantID: tenantID)
                var snapshot = TenantSnapshot(
                    tenant: tenant, tools: tools, agents: agents, bundle: active.map(SnapshotStore.compiled),
                    canary: canary.map { (SnapshotStore.compiled($0), $0.status.share) })
                snapshot.cancelledRuns = try await repos.runs.cancelledIDs(tenantID: tenantID)
                return snapshot
            }
            guard let loaded else { throw WardenError(.tenantNotFound, "tenant not found") }
            let installed = state.withLock { state -> Bool in
                guard state.generations[tenantID, default: 0] == generation else { return false }
                state.snapshots[tenantID] = loaded
                state.slugs[loaded.tenant.slug] = tenantID
                return true
            }
            if installed {
                show(loaded)
                return loaded
            }
        }
        throw WardenError(.databaseUnavailable, "tenant state kept changing while it was being loaded; try again")
    }

    // MARK: Applying committed changes

    /// Puts a committed tool into the cached snapshot. A change that arrives out of order (an older
    /// state version, or an older update of the same version) is ignored.
    public func apply(_ tool: Tool) {
        mutate(tool.tenantID) { snapshot in
            if let current = snapshot.tools[tool.name]?.tool {
                let newer =
                    tool.stateVersion > current.stateVersion || (tool.stateVersion == current.stateVersion && tool.updatedAt >= current.updatedAt)
                guard newer else { return }
            }
            snapshot.tools[tool.name] = TenantSnapshot.ToolEntry(tool)
        }
    }

    public func apply(_ agent: Agent) {
        mutate(agent.tenantID) { $0.agents[agent.agentID] = agent }
    }

    public func apply(_ tenant: Tenant) {
        mutate(tenant.id) { $0.tenant = tenant }
    }

    public func apply(cancelledRun runID: String, tenantID: UUID) {
        mutate(tenantID) { _ = $0.cancelledRuns.insert(runID) }
    }

    /// Makes `bundle` (already compiled) the tenant's deciding bundle.
    public func apply(activeBundle bundle: CompiledBundle, tenantID: UUID) {
        mutate(tenantID) { $0.bundle = bundle }
    }

    /// Installs the tenant's deciding bundles after a rollout step: the active one (or none) and the
    /// canary with its share (or none).
    public func apply(active: CompiledBundle?, canary: (CompiledBundle, Int)?, tenantID: UUID) {
        mutate(tenantID) { snapshot in
            snapshot.bundle = active
            snapshot.canary = canary.map { (bundle: $0.0, share: $0.1) }
        }
    }

    /// A stored active bundle compiles: it was checked when it was created. Should a later engine
    /// refuse it, decisions fail closed (`policy_error`) rather than fall back to allowing.
    static func compiled(_ bundle: PolicyBundle) -> CompiledBundle {
        (try? CompiledBundle(bundle)) ?? CompiledBundle(failing: bundle)
    }

    private func mutate(_ tenantID: UUID, _ change: (inout TenantSnapshot) -> Void) {
        let changed = state.withLock { state -> TenantSnapshot? in
            state.generations[tenantID, default: 0] += 1
            guard var snapshot = state.snapshots[tenantID] else { return nil }
            change(&snapshot)
            state.snapshots[tenantID] = snapshot
            return snapshot
        }
        if let changed { show(changed) }
        announce(.tenant(tenantID))
    }

    /// Updates the tenant's bundle gauges when what they show changed: `warden_bundle_active_info
    /// {tenant, version}` (1 for the active bundle), `warden_bundle_active_since_seconds{tenant}` (when
    /// it became active, Unix time) and `warden_bundle_canary_percent{tenant, version}` (the canary's
    /// share of decisions). A series of a bundle no longer in that role is removed.
    private func show(_ snapshot: TenantSnapshot) {
        let now = BundleGauges(snapshot)
        let tenantID = snapshot.tenant.id
        let before = state.withLock { state -> BundleGauges? in
            let before = state.shown[tenantID]
            state.shown[tenantID] = now
            return before
        }
        guard before != now else { return }
        let tenant = ("tenant", now.tenant)
        if let before, let version = before.active, before.active != now.active || before.tenant != now.tenant {
            Gauge(label: "warden_bundle_active_info", dimensions: [("tenant", before.tenant), ("version", version)]).destroy()
        }
        if let before, let canary = before.canary, canary.version != now.canary?.version || before.tenant != now.tenant {
            Gauge(label: "warden_bundle_canary_percent", dimensions: [("tenant", before.tenant), ("version", canary.version)]).destroy()
        }
        if let version = now.active { Gauge(label: "warden_bundle_active_info", dimensions: [tenant, ("version", version)]).record(1) }
        if let since = now.activeSince {
            Gauge(label: "warden_bundle_active_since_seconds", dimensions: [tenant]).record(since)
        } else if let before, before.activeSince != nil {
            Gauge(label: "warden_bundle_active_since_seconds", dimensions: [("tenant", before.tenant)]).destroy()
        }
        if let canary = now.canary {
            Gauge(label: "warden_bundle_canary_percent", dimensions: [tenant, ("version", canary.version)]).record(canary.share)
        }
    }

    /// Loads every tenant, so the first decision of each is as fast as the rest.
    public func preload() async throws {
        var page = PageRequest(limit: PageRequest.maximumLimit)
        while true {
            let result = try await store.read { [page] in try await $0.tenants.list(page) }
            for tenant in result.items { try await refresh(tenantID: tenant.id) }
            guard let next = result.nextCursor else { return }
            page = PageRequest(limit: PageRequest.maximumLimit, after: try Cursor.decode(next))
        }
    }
}

/// What the bundle gauges show for one tenant.
struct BundleGauges: Equatable {
    var tenant: String
    var active: String?
    var activeSince: Double?
    var canary: Canary?

    struct Canary: Equatable {
        var version: String
        var share: Int
    }

    init(_ snapshot: TenantSnapshot) {
        tenant = snapshot.tenant.slug
        active = snapshot.bundle.map { "\($0.version)" }
        activeSince = snapshot.bundle?.activatedAt?.timeIntervalSince1970
        canary = snapshot.canary.map { Canary(version: "\($0.bundle.version)", share: $0.share) }
    }
}
