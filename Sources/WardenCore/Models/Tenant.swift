public import Foundation

/// A tenant: the unit of isolation. Every tenant-owned resource lives under its slug.
public struct Tenant: Sendable, Equatable, Codable {
    public var id: UUID
    public var slug: String
    public var name: String
    public var createdAt: Date
    /// The effect when no policy decides: `deny` unless the tenant chose `allow`.
    public var defaultEffect: DefaultEffect
    /// Where rollout notifications (automatic rollbacks, incidents) are posted, if anywhere.
    public var notificationURL: String?
    /// The tenant's canary quality-gate thresholds; `nil` for the defaults.
    public var gateThresholds: GateThresholds?
    /// While on, every `allow` needs a person: auto-approval is off for every tool (runbook: "disable auto-approve").
    public var forceManualApproval: Bool
    /// The escalation ladder; `nil` for one unnamed step after the server's default timeout.
    public var approvalSettings: ApprovalSettings?
    /// While on, the escalation pass leaves the tenant's requests alone (runbook: "pause escalation worker").
    public var escalationPaused: Bool = false
    /// While on, the tenant's webhooks wait in the queue (none is lost); resuming sends them.
    public var webhooksPaused: Bool = false
    /// Rate limits of decisions (per tenant, agent and tool); `nil` for none.
    public var limits: TenantLimits?
    /// Panic mode, when it was switched on (it may have expired since: see `PanicState.isActive`).
    public var panic: PanicState?

    public init(id: UUID, slug: String, name: String, createdAt: Date, defaultEffect: DefaultEffect = .deny, notificationURL: String? = nil) {
        self.notificationURL = notificationURL
        self.gateThresholds = nil
        self.forceManualApproval = false
        self.id = id
        self.slug = slug
        self.name = name
        self.createdAt = createdAt
        self.defaultEffect = defaultEffect
    }
}

extension Tenant {
    /// Slugs are 2–63 characters of lowercase letters, digits and single hyphens, starting with a letter,
    /// so they are safe in URLs, metrics labels and file names.
    public static func validate(slug: String) throws(WardenError) {
        let bytes = Array(slug.utf8)
        guard (2...63).contains(bytes.count) else {
            throw WardenError(.invalidField, "slug must be 2 to 63 characters long")
        }
        guard let first = bytes.first, (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first) else {
            throw WardenError(.invalidField, "slug must start with a lowercase letter")
        }
        var previousHyphen = false
        for byte in bytes {
            let isLower = (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
            let isDigit = (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
            let isHyphen = byte == UInt8(ascii: "-")
            guard isLower || isDigit || isHyphen else {
                throw WardenError(.invalidField, "slug may contain only lowercase letters, digits and hyphens")
            }
            if isHyphen && previousHyphen {
                throw WardenError(.invalidField, "slug must not contain two hyphens in a row")
            }
            previousHyphen = isHyphen
        }
        if previousHyphen {
            throw WardenError(.invalidField, "slug must not end with a hyphen")
        }
    }

    public static func validate(name: String) throws(WardenError) {
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw WardenError(.invalidField, "name must not be empty") }
        guard name.count <= 200 else { throw WardenError(.invalidField, "name must be at most 200 characters") }
    }
}
