public import Foundation
import Metrics
import Synchronization

/// A token bucket: `rate` tokens a second, holding at most `burst`.
public struct RateLimit: Sendable, Equatable, Codable {
    public var rate: Double
    public var burst: Double

    public init(rate: Double, burst: Double) {
        self.rate = rate
        self.burst = burst
    }
}

/// A tenant's rate limits: one bucket for the tenant, one per agent and one per tool (each agent or
/// tool takes its named limit, else the default for every agent or tool).
public struct TenantLimits: Sendable, Equatable, Codable {
    public var tenant: RateLimit?
    public var agent: RateLimit?
    public var agents: [String: RateLimit]
    public var tool: RateLimit?
    public var tools: [String: RateLimit]

    public init(
        tenant: RateLimit? = nil, agent: RateLimit? = nil, agents: [String: RateLimit] = [:], tool: RateLimit? = nil,
        tools: [String: RateLimit] = [:]
    ) {
        self.tenant = tenant
        self.agent = agent
        self.agents = agents
        self.tool = tool
        self.tools = tools
    }

    public var isEmpty: Bool { tenant == nil && agent == nil && agents.isEmpty && tool == nil && tools.isEmpty }

    /// `{tenant?, agent?, agents?: {id: limit}, tool?, tools?: {name: limit}}`, each limit
    /// `{rate, burst?}` (requests a second; burst defaults to the rate, at least 1).
    public static func parse(_ value: JSONValue) throws(WardenError) -> TenantLimits {
        guard case .object(let fields) = value else { throw WardenError(.invalidField, "limits must be an object") }
        let known: Set<String> = ["tenant", "agent", "agents", "tool", "tools"]
        if let unknown = fields.keys.sorted().first(where: { !known.contains($0) }) {
            throw WardenError(.invalidField, "limits has no field '\(unknown)' (it takes tenant, agent, agents, tool, tools)")
        }
        func limit(_ value: JSONValue?, _ field: String) throws(WardenError) -> RateLimit? {
            guard let value, value != .null else { return nil }
            guard case .object(let parts) = value, let rate = parts["rate"]?.number else {
                throw WardenError(.invalidField, "\(field) must be {\"rate\": requests per second, \"burst\": requests}")
            }
            let burst =
                try parts["burst"].map { value throws(WardenError) -> Double in
                    guard let burst = value.number else { throw WardenError(.invalidField, "\(field).burst must be a number") }
                    return burst
                } ?? max(rate, 1)
            guard rate.isFinite, rate > 0, rate <= 1_000_000 else {
                throw WardenError(.invalidField, "\(field).rate must be above 0 and at most 1000000")
            }
            guard burst.isFinite, burst >= 1, burst <= 1_000_000 else { throw WardenError(.invalidField, "\(field).burst must be 1 to 1000000") }
            return RateLimit(rate: rate, burst: burst)
        }
        func named(_ value: JSONValue?, _ field: String) throws(WardenError) -> [String: RateLimit] {
            guard let value, value != .null else { return [:] }
            guard case .object(let entries) = value, entries.count <= 1000 else {
                throw WardenError(.invalidField, "\(field) must be an object of at most 1000 names to limits")
            }
            var result: [String: RateLimit] = [:]
            for (name, entry) in entries {
                try Tool.validate(identifier: name, field: "\(field) name")
                result[name] = try limit(entry, "\(field).\(name)")
            }
            return result
        }
        return TenantLimits(
            tenant: try limit(fields["tenant"], "tenant"), agent: try limit(fields["agent"], "agent"), agents: try named(fields["agents"], "agents"),
            tool: try limit(fields["tool"], "tool"), tools: try named(fields["tools"], "tools"))
    }

    public var json: JSONValue {
        func render(_ limit: RateLimit?) -> JSONValue {
            limit.map { .object(["rate": .double($0.rate), "burst": .double($0.burst)]) } ?? .null
        }
        return .object([
            "tenant": render(tenant), "agent": render(agent), "agents": .object(agents.mapValues { render($0) }), "tool": render(tool),
            "tools": .object(tools.mapValues { render($0) }),
        ])
    }
}

/// Panic mode: while on, every decision of the tenant is denied (`tenant_panic`).
public struct PanicState: Sendable, Equatable, Codable {
    public var since: Date
    /// When it ends by itself; `nil` until disabled.
    public var until: Date?
    public var reason: String
    public var by: String

    public init(since: Date, until: Date?, reason: String, by: String) {
        self.since = since
        self.until = until
        self.reason = reason
        self.by = by
    }

    public func isActive(at now: Date) -> Bool { until.map { now < $0 } ?? true }
}

/// Token buckets in memory, per replica: each replica enforces the limits on the decisions it serves.
public final class RateLimiter: Sendable {
    struct Bucket {
        var tokens: Double
        var at: Double
    }
    private let buckets = Mutex<[String: Bucket]>([:])
    private let hits = Mutex<[UUID: Counter]>([:])

    public init() {}

    /// `warden_rate_limit_hits_total{tenant}`: one counter per tenant, made once.
    public func countHit(_ tenant: Tenant) {
        let counter = hits.withLock { counters in
            if let counter = counters[tenant.id] { return counter }
            let counter = Counter(label: "warden_rate_limit_hits_total", dimensions: [("tenant", tenant.slug)])
            counters[tenant.id] = counter
            return counter
        }
        counter.increment()
    }

    /// Takes one token from each bucket, or none when any is empty: `nil` when allowed, else the seconds
    /// until the emptiest bucket holds a token again.
    public func take(_ checks: [(key: String, limit: RateLimit)], now: Double) -> Double? {
        buckets.withLock { buckets in
            var wait = 0.0
            var refilled: [(String, Bucket)] = []
            refilled.reserveCapacity(checks.count)
            for (key, limit) in checks {
                var bucket = buckets[key] ?? Bucket(tokens: limit.burst, at: now)
                bucket.tokens = min(limit.burst, bucket.tokens + max(0, now - bucket.at) * limit.rate)
                bucket.at = now
                if bucket.tokens < 1 { wait = max(wait, (1 - bucket.tokens) / limit.rate) }
                refilled.append((key, bucket))
            }
            for (key, var bucket) in refilled {
                if wait == 0 { bucket.tokens -= 1 }
                buckets[key] = bucket
            }
            return wait == 0 ? nil : wait
        }
    }

    /// The buckets that apply to a decision of `agentID` calling `tool` in the tenant.
    public static func checks(_ limits: TenantLimits, tenantID: UUID, agentID: String, tool: String) -> [(key: String, limit: RateLimit)] {
        var checks: [(key: String, limit: RateLimit)] = []
        let tenant = tenantID.uuidString
        if let limit = limits.tenant { checks.append(("t|\(tenant)", limit)) }
        if let limit = limits.agents[agentID] ?? limits.agent { checks.append(("a|\(tenant)|\(agentID)", limit)) }
        if let limit = limits.tools[tool] ?? limits.tool { checks.append(("o|\(tenant)|\(tool)", limit)) }
        return checks
    }
}

extension JSONValue {
    var number: Double? {
        switch self {
        case .int(let value): Double(value)
        case .double(let value): value
        default: nil
        }
    }
}
