import Foundation
import WardenCore

/// The JSON shapes Warden answers with (snake_case, RFC 3339 UTC times).
struct TenantResponse: Codable, Equatable {
    var id: String
    var slug: String
    var name: String
    var createdAt: String
    var defaultEffect: String
    /// Whether rollout notifications go anywhere; the URL itself is not shown (it often carries a token).
    var notificationURLSet: Bool
    /// The canary gate thresholds in force (the tenant's, or the defaults).
    var rollout: GateThresholds
    var forceManualApproval: Bool
    var approvals: ApprovalsView
    var escalationPaused: Bool
    var webhooksPaused: Bool
    /// The rate limits in force (`null` for none).
    var limits: TenantLimits?
    /// Panic mode as last switched on, with whether it is in force now.
    var panic: PanicView?

    struct PanicView: Codable, Equatable {
        var active: Bool
        var since: String
        var until: String?
        var reason: String
        var by: String
    }

    /// The escalation ladder, with whether each level has a webhook (never the URL).
    struct ApprovalsView: Codable, Equatable {
        struct Level: Codable, Equatable {
            var name: String
            var webhookURLSet: Bool
            enum CodingKeys: String, CodingKey {
                case name
                case webhookURLSet = "webhook_url_set"
            }
        }
        var timeouts: [String: Int]
        var escalationLevels: [Level]
        var webhookURLSet: Bool
        enum CodingKeys: String, CodingKey {
            case timeouts
            case escalationLevels = "escalation_levels"
            case webhookURLSet = "webhook_url_set"
        }
    }

    enum CodingKeys: String, CodingKey {
        case approvals
        case escalationPaused = "escalation_paused"
        case webhooksPaused = "webhooks_paused"
        case limits, panic
        case rollout
        case forceManualApproval = "force_manual_approval"
        case id, slug, name
        case createdAt = "created_at"
        case defaultEffect = "default_effect"
        case notificationURLSet = "notification_url_set"
    }

    init(_ tenant: Tenant, now: Date = Date()) {
        self.id = tenant.id.uuidString.lowercased()
        self.slug = tenant.slug
        self.name = tenant.name
        self.createdAt = Timestamp.format(tenant.createdAt)
        self.defaultEffect = tenant.defaultEffect.rawValue
        self.notificationURLSet = tenant.notificationURL != nil
        self.rollout = tenant.gateThresholds ?? GateThresholds()
        self.forceManualApproval = tenant.forceManualApproval
        let settings = tenant.approvalSettings ?? ApprovalSettings()
        self.approvals = ApprovalsView(
            timeouts: settings.timeouts,
            escalationLevels: settings.escalationLevels.map { .init(name: $0.name, webhookURLSet: $0.webhookURL != nil) },
            webhookURLSet: settings.webhookURL != nil)
        self.escalationPaused = tenant.escalationPaused
        self.webhooksPaused = tenant.webhooksPaused
        self.limits = tenant.limits
        self.panic = tenant.panic.map {
            PanicView(
                active: $0.isActive(at: now), since: Timestamp.format($0.since), until: $0.until.map(Timestamp.format), reason: $0.reason, by: $0.by)
        }
    }
}

struct APIKeyResponse: Codable, Equatable {
    var id: String
    var name: String
    var role: String
    /// The tenant's slug, or `nil` for a global key.
    var tenant: String?
    var prefix: String
    var createdAt: String
    var createdBy: String?
    var revokedAt: String?
    /// Present only in the answer to the create call.
    var key: String?

    enum CodingKeys: String, CodingKey {
        case id, name, role, tenant, prefix, key
        case createdAt = "created_at"
        case createdBy = "created_by"
        case revokedAt = "revoked_at"
    }

    init(_ key: APIKey, tenantSlug: String?, secret: String? = nil) {
        self.id = key.id.uuidString.lowercased()
        self.name = key.name
        self.role = key.role.rawValue
        self.tenant = tenantSlug
        self.prefix = key.prefix
        self.createdAt = Timestamp.format(key.createdAt)
        self.createdBy = key.createdBy
        self.revokedAt = key.revokedAt.map(Timestamp.format)
        self.key = secret
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(name, forKey: .name)
        try container.encode(role, forKey: .role)
        try container.encode(tenant, forKey: .tenant)
        try container.encode(prefix, forKey: .prefix)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(createdBy, forKey: .createdBy)
        try container.encode(revokedAt, forKey: .revokedAt)
        try container.encodeIfPresent(key, forKey: .key)
    }
}

struct AuditEventResponse: Codable, Equatable {
    var id: String
    var tenant: String?
    var actor: String
    var action: String
    var target: String
    var reason: String?
    var details: [String: String]
    var createdAt: String

    enum CodingKeys: String, CodingKey {
        case id, tenant, actor, action, target, reason, details
        case createdAt = "created_at"
    }

    init(_ event: AuditEvent, tenantSlug: String?) {
        self.id = event.id.uuidString.lowercased()
        self.tenant = tenantSlug
        self.actor = event.actor
        self.action = event.action
        self.target = event.target
        self.reason = event.reason
        self.details = event.details
        self.createdAt = Timestamp.format(event.createdAt)
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(tenant, forKey: .tenant)
        try container.encode(actor, forKey: .actor)
        try container.encode(action, forKey: .action)
        try container.encode(target, forKey: .target)
        try container.encode(reason, forKey: .reason)
        try container.encode(details, forKey: .details)
        try container.encode(createdAt, forKey: .createdAt)
    }
}

/// `{"items": […], "next_cursor": "…" | null}`
struct ListResponse<Item: Codable>: Codable {
    var items: [Item]
    var nextCursor: String?

    enum CodingKeys: String, CodingKey {
        case items
        case nextCursor = "next_cursor"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(items, forKey: .items)
        try container.encode(nextCursor, forKey: .nextCursor)
    }
}
