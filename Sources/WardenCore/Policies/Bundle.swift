public import Foundation

/// Where a bundle is in its life; `BundleLifecycle` says which moves are allowed.
public enum BundleStatus: String, Sendable, Codable, CaseIterable {
    /// Editable; decides nothing.
    case draft
    /// Approved by someone other than its author; immutable; decides nothing yet.
    case approved
    /// Decides 10 % of the tenant's decisions (by a stable hash of tenant and agent).
    case canary10 = "canary_10"
    /// Decides 50 %.
    case canary50 = "canary_50"
    /// The tenant's deciding bundle (one at a time).
    case active
    /// Superseded or rolled back; read-only.
    case archived
}

/// A versioned set of policies for one tenant: Rego modules and base data, an entry point whose value
/// is the decision, and the effect when the entry point is undefined.
public struct PolicyBundle: Sendable, Equatable {
    public var id: UUID
    public var tenantID: UUID
    public var version: SemanticVersion
    public var status: BundleStatus
    /// Rego sources by file name (`"tools/refunds.rego"`).
    public var modules: [String: String]
    /// Base data, an object (`data.*` in the policies).
    public var data: JSONValue
    /// Native rules as given (a JSON array; see `NativeRules`), compiled to the module `rules.rego`.
    public var rules: JSONValue
    /// An OPA server that decides instead of local modules, if the bundle delegates.
    public var opa: ExternalOPA?
    /// The decision's path, `data.…` (for example `data.warden.decision`).
    public var entrypoint: String
    /// The answer when the entry point is undefined (counted as a no-match).
    public var defaultEffect: DefaultEffect
    public var notes: String?
    public var createdBy: String
    public var createdAt: Date
    public var updatedAt: Date
    public var activatedAt: Date?
    public var activatedBy: String?
    public var approvedAt: Date?
    public var approvedBy: String?
    /// When the bundle entered its current stage (the canary's minimum time counts from here).
    public var stageSince: Date?
    /// The active bundle this one replaced when it became active; a rollback hands back to it.
    public var previousBundleID: UUID?
    public var rolledBackAt: Date?
    public var rolledBackBy: String?
    public var rollbackReason: String?

    public init(
        id: UUID, tenantID: UUID, version: SemanticVersion, status: BundleStatus, modules: [String: String], data: JSONValue,
        rules: JSONValue = .array([]), opa: ExternalOPA? = nil, entrypoint: String, defaultEffect: DefaultEffect, notes: String?, createdBy: String,
        createdAt: Date,
        updatedAt: Date,
        activatedAt: Date? = nil, activatedBy: String? = nil, approvedAt: Date? = nil, approvedBy: String? = nil, stageSince: Date? = nil,
        previousBundleID: UUID? = nil, rolledBackAt: Date? = nil, rolledBackBy: String? = nil, rollbackReason: String? = nil
    ) {
        self.id = id
        self.tenantID = tenantID
        self.version = version
        self.status = status
        self.modules = modules
        self.data = data
        self.rules = rules
        self.opa = opa
        self.entrypoint = entrypoint
        self.defaultEffect = defaultEffect
        self.notes = notes
        self.createdBy = createdBy
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.activatedAt = activatedAt
        self.activatedBy = activatedBy
        self.approvedAt = approvedAt
        self.approvedBy = approvedBy
        self.stageSince = stageSince
        self.previousBundleID = previousBundleID
        self.rolledBackAt = rolledBackAt
        self.rolledBackBy = rolledBackBy
        self.rollbackReason = rollbackReason
    }
}

/// What a caller supplies to create a bundle.
public struct BundleDraft: Sendable {
    public var version: String
    public var modules: [String: String]
    public var data: JSONValue
    public var rules: JSONValue
    public var opa: ExternalOPA?
    public var entrypoint: String
    public var defaultEffect: DefaultEffect
    public var notes: String?

    public init(
        version: String, modules: [String: String], data: JSONValue = .object([:]), rules: JSONValue = .array([]), opa: ExternalOPA? = nil,
        entrypoint: String, defaultEffect: DefaultEffect = .deny, notes: String? = nil
    ) {
        self.version = version
        self.modules = modules
        self.data = data
        self.rules = rules
        self.opa = opa
        self.entrypoint = entrypoint
        self.defaultEffect = defaultEffect
        self.notes = notes
    }
}

/// A change to a draft; `nil` leaves a field as it is.
public struct BundlePatch: Sendable {
    public var modules: [String: String]?
    public var data: JSONValue?
    public var rules: JSONValue?
    public var entrypoint: String?
    public var defaultEffect: DefaultEffect?
    public var notes: String??

    public init(
        modules: [String: String]? = nil, data: JSONValue? = nil, rules: JSONValue? = nil, entrypoint: String? = nil,
        defaultEffect: DefaultEffect? = nil, notes: String?? = nil
    ) {
        self.modules = modules
        self.data = data
        self.rules = rules
        self.entrypoint = entrypoint
        self.defaultEffect = defaultEffect
        self.notes = notes
    }
}

/// Filters for bundle listings; newest version first.
public struct BundleQuery: Sendable, Equatable {
    public var tenantID: UUID
    public var version: String?
    public var activeOnly: Bool

    public init(tenantID: UUID, version: String? = nil, activeOnly: Bool = false) {
        self.tenantID = tenantID
        self.version = version
        self.activeOnly = activeOnly
    }
}
