public import Foundation

/// A tenant's escalation ladder: how long a request waits at each step, per approval level, and
/// who is told at each step. Stored with the tenant; `PATCH /v1/tenants/{t} {"approvals": {…}}`.
public struct ApprovalSettings: Sendable, Equatable, Codable {
    /// One rung of the ladder: a name for people (`team-lead`, `security-on-call`) and the webhook
    /// told when a request reaches it.
    public struct Level: Sendable, Equatable, Codable {
        public var name: String
        public var webhookURL: String?

        public init(name: String, webhookURL: String?) {
            self.name = name
            self.webhookURL = webhookURL
        }

        enum CodingKeys: String, CodingKey {
            case name
            case webhookURL = "webhook_url"
        }
    }

    /// Seconds a request waits at each step before the next, by approval level (`manual_approve`,
    /// `two_person`); a level not named uses the server's default.
    public var timeouts: [String: Int]
    public var escalationLevels: [Level]
    /// The approvers' channel: where requests without their own `webhook_url` (such as those a
    /// decision opens) are announced.
    public var webhookURL: String?

    public init(timeouts: [String: Int] = [:], escalationLevels: [Level] = [], webhookURL: String? = nil) {
        self.timeouts = timeouts
        self.escalationLevels = escalationLevels
        self.webhookURL = webhookURL
    }

    enum CodingKeys: String, CodingKey {
        case timeouts
        case escalationLevels = "escalation_levels"
        case webhookURL = "webhook_url"
    }

    /// The wait per step for `level`.
    public func timeout(for level: ApprovalLevel, default fallback: TimeInterval) -> TimeInterval {
        timeouts[level.rawValue].map(TimeInterval.init) ?? fallback
    }

    /// How many times a request can be escalated: one per named level, or one without names.
    public var steps: Int { max(1, escalationLevels.count) }

    /// The settings after a PATCH: `timeouts` and `escalation_levels` replace what they name.
    public func merging(_ fields: [String: JSONValue]) throws(WardenError) -> ApprovalSettings {
        var next = self
        for (key, value) in fields {
            switch key {
            case "timeouts":
                guard case .object(let object) = value else {
                    throw WardenError(.invalidField, "approvals.timeouts must be an object of seconds by level, e.g. {\"two_person\": 1800}")
                }
                var timeouts: [String: Int] = [:]
                for (name, seconds) in object {
                    guard let level = ApprovalLevel(rawValue: name), level != .autoApprove else {
                        throw WardenError(.invalidField, "approvals.timeouts: unknown level '\(name)' (manual_approve or two_person)")
                    }
                    guard let number = seconds.intValue, (10...7 * 86_400).contains(number) else {
                        throw WardenError(.invalidField, "approvals.timeouts.\(name) must be whole seconds from 10 to 604800")
                    }
                    timeouts[level.rawValue] = number
                }
                next.timeouts = timeouts
            case "escalation_levels":
                guard case .array(let items) = value, items.count <= 10 else {
                    throw WardenError(.invalidField, "approvals.escalation_levels must be a list of at most 10 {name, webhook_url}")
                }
                next.escalationLevels = try items.enumerated().map { index, item throws(WardenError) in
                    guard case .object(let level) = item, case .string(let name)? = level["name"],
                        !name.trimmingCharacters(in: .whitespaces).isEmpty, name.count <= 100
                    else {
                        throw WardenError(.invalidField, "approvals.escalation_levels[\(index)] needs a name of 1 to 100 characters")
                    }
                    var url: String?
                    switch level["webhook_url"] {
                    case nil, .null?: url = nil
                    case .string(let text)?:
                        try IdentityService.validate(notificationURL: text)
                        url = text
                    default: throw WardenError(.invalidField, "approvals.escalation_levels[\(index)].webhook_url must be a URL")
                    }
                    return Level(name: name, webhookURL: url)
                }
            case "webhook_url":
                switch value {
                case .null: next.webhookURL = nil
                case .string(let url):
                    try IdentityService.validate(notificationURL: url)
                    next.webhookURL = url
                default: throw WardenError(.invalidField, "approvals.webhook_url must be an http(s) URL, or null")
                }
            default:
                throw WardenError(.invalidField, "approvals: unknown field '\(key)' (timeouts, escalation_levels, webhook_url)")
            }
        }
        return next
    }

    /// For the audit trail: timeouts and level names, never webhook URLs.
    public var description: String {
        let timeouts = self.timeouts.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)s" }.joined(separator: ",")
        let levels = escalationLevels.map(\.name).joined(separator: ">")
        return "timeouts[\(timeouts)] levels[\(levels)] webhook[\(webhookURL == nil ? "none" : "set")]"
    }
}

extension JSONValue {
    /// The value as a whole number, if it is one.
    var intValue: Int? {
        switch self {
        case .int(let value): return Int(exactly: value)
        case .double(let value): return value.rounded() == value && abs(value) < 1e15 ? Int(value) : nil
        default: return nil
        }
    }
}

/// What the escalation pass does with one request.
public enum EscalationStep: Sendable, Equatable {
    /// Move to this step (1-based): the request is `escalated` and that step's level is told.
    case escalate(to: Int)
    /// Past its expiry: `expired`, which is a denial.
    case expire
}

extension ApprovalRules {
    /// The pure escalation rule: an unresolved request expires at its expiry; otherwise it is at
    /// step ⌊age ÷ timeout⌋ (at most the last), and moves there if it is behind.
    public static func escalation(
        of request: ApprovalRequest, settings: ApprovalSettings, defaultTimeout: TimeInterval, now: Date
    ) -> EscalationStep? {
        guard !request.status.isResolved else { return nil }
        if now >= request.expiresAt { return .expire }
        let timeout = max(1, settings.timeout(for: request.level, default: defaultTimeout))
        let due = min(settings.steps, Int(now.timeIntervalSince(request.createdAt) / timeout))
        return due > request.escalationStep ? .escalate(to: due) : nil
    }

    /// The expiry of a request opened now without an explicit lifetime: after the last step's timeout.
    public static func defaultLifetime(level: ApprovalLevel, settings: ApprovalSettings, defaultTimeout: TimeInterval) -> TimeInterval {
        settings.timeout(for: level, default: defaultTimeout) * Double(settings.steps + 1)
    }
}
