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
    /// Cost budgets per UTC day: the sum of the `cost` of decisions not denied.
    public var budget: Budget?

    public struct Budget: Sendable, Equatable, Codable {
        public var tenantDaily: Double?
        public var agentDaily: Double?
        public var agents: [String: Double]

        enum CodingKeys: String, CodingKey {
            case tenantDaily = "tenant_daily"
            case agentDaily = "agent_daily"
            case agents
        }

        public init(tenantDaily: Double? = nil, agentDaily: Double? = nil, agents: [String: Double] = [:]) {
            self.tenantDaily = tenantDaily
            self.agentDaily = agentDaily
            self.agents = agents
        }

        public var isEmpty: Bool { tenantDaily == nil && agentDaily == nil && agents.isEmpty }
    }

    public init(
        tenant: RateLimit? = nil, agent: RateLimit? = nil, agents: [String: RateLimit] = [:], tool: RateLimit? = nil,
        tools: [String: RateLimit] = [:], budget: Budget? = nil
    ) {
        self.budget = budget
        self.tenant = tenant
        self.agent = agent
        self.agents = agents
        self.tool = tool
        self.tools = tools
    }

    public var isEmpty: Bool { tenant == nil && agent == nil && agents.isEmpty && tool == nil && tools.isEmpty && (budget?.isEmpty ?? true) }

    /// `{tenant?, agent?, agents?: {id: limit}, tool?, tools?: {name: limit}}`, each limit
    /// `{rate, burst?}` (requests a second; burst defaults to the rate, at least 1).
    public static func parse(_ value: JSONValue) throws(WardenError) -> TenantLimits {
        guard case .object(let fields) = value else { throw WardenError(.invalidField, "limits must be an object") }
        let known: Set<String> = ["tenant", "agent", "agents", "tool", "tools", "budget"]
        if let unknown = fields.keys.sorted().first(where: { !known.contains($0) }) {
            throw WardenError(.invalidField, "limits has no field '\(unknown)' (it takes tenant, agent, agents, tool, tools, budget)")
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
        func amount(_ value: JSONValue?, _ field: String) throws(WardenError) -> Double? {
            guard let value, value != .null else { return nil }
            guard let amount = value.number, amount.isFinite, amount >= 0 else {
                throw WardenError(.invalidField, "\(field) must be a cost of 0 or more")
            }
            return amount
        }
        var budget: Budget?
        if let value = fields["budget"], value != .null {
            guard case .object(let parts) = value else {
                throw WardenError(.invalidField, "budget must be {\"tenant_daily\": cost, \"agent_daily\": cost, \"agents\": {id: cost}}")
            }
            if let unknown = parts.keys.sorted().first(where: { !["tenant_daily", "agent_daily", "agents"].contains($0) }) {
                throw WardenError(.invalidField, "budget has no field '\(unknown)' (it takes tenant_daily, agent_daily, agents)")
            }
            var agents: [String: Double] = [:]
            if let named = parts["agents"], named != .null {
                guard case .object(let entries) = named, entries.count <= 1000 else {
                    throw WardenError(.invalidField, "budget.agents must be an object of at most 1000 agent ids to costs")
                }
                for (name, entry) in entries {
                    try Tool.validate(identifier: name, field: "budget.agents name")
                    agents[name] = try amount(entry, "budget.agents.\(name)")
                }
            }
            budget = Budget(
                tenantDaily: try amount(parts["tenant_daily"], "budget.tenant_daily"),
                agentDaily: try amount(parts["agent_daily"], "budget.agent_daily"),
                agents: agents)
        }
        return TenantLimits(
            tenant: try limit(fields["tenant"], "tenant"), agent: try limit(fields["agent"], "agent"), agents: try named(fields["agents"], "agents"),
            tool: try limit(fields["tool"], "tool"), tools: try named(fields["tools"], "tools"), budget: budget?.isEmpty == true ? nil : budget)
    }

    public var json: JSONValue {
        func render(_ limit: RateLimit?) -> JSONValue {
            limit.map { .object(["rate": .double($0.rate), "burst": .double($0.burst)]) } ?? .null
        }
        return .object([
            "tenant": render(tenant), "agent": render(agent), "agents": .object(agents.mapValues { render($0) }), "tool": render(tool),
            "tools": .object(tools.mapValues { render($0) }),
            "budget": budget.map { budget in
                .object([
                    "tenant_daily": budget.tenantDaily.map(JSONValue.double) ?? .null,
                    "agent_daily": budget.agentDaily.map(JSONValue.double) ?? .null,
                    "agents": .object(budget.agents.mapValues(JSONValue.double)),
                ])
            } ?? .null,
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
    private let hits = TenantCounters("warden_rate_limit_hits_total")

    public init() {}

    /// `warden_rate_limit_hits_total{tenant}`.
    public func countHit(_ tenant: Tenant) { hits.increment(tenant) }

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

/// Each tenant's and agent's spend of the current UTC day, in memory (per replica): seeded from the
/// decision log when the server starts, counted as decisions are recorded, reset when the day turns.
public final class SpendTracker: Sendable {
    struct Day {
        var day: Int
        var spent: Double
    }
    private let spent = Mutex<[String: Day]>([:])
    private let rejections = TenantCounters("warden_budget_rejections_total")
    private let used = Mutex<[UUID: Gauge]>([:])

    public init() {}

    public static func day(_ date: Date) -> Int { Int((date.timeIntervalSince1970 / 86_400).rounded(.down)) }

    static func key(tenantID: UUID, agentID: String?) -> String {
        agentID.map { "\(tenantID.uuidString)|\($0)" } ?? tenantID.uuidString
    }

    public func spent(tenantID: UUID, agentID: String?, day: Int) -> Double {
        spent.withLock { spent in
            guard let entry = spent[Self.key(tenantID: tenantID, agentID: agentID)], entry.day == day else { return 0 }
            return entry.spent
        }
    }

    /// Sets the tenant's spend of `day` (per agent; the tenant's is their sum), replacing what was counted.
    public func replace(_ perAgent: [String: Double], tenantID: UUID, day: Int) {
        spent.withLock { spent in
            let prefix = tenantID.uuidString + "|"
            for key in spent.keys where key.hasPrefix(prefix) { spent[key] = nil }
            spent[Self.key(tenantID: tenantID, agentID: nil)] = Day(day: day, spent: perAgent.values.reduce(0, +))
            for (agentID, cost) in perAgent { spent[Self.key(tenantID: tenantID, agentID: agentID)] = Day(day: day, spent: cost) }
        }
    }

    /// Adds a recorded decision's cost to its tenant and agent.
    public func add(_ cost: Double, tenantID: UUID, agentID: String, day: Int) {
        spent.withLock { spent in
            for key in [Self.key(tenantID: tenantID, agentID: nil), Self.key(tenantID: tenantID, agentID: agentID)] {
                var entry = spent[key] ?? Day(day: day, spent: 0)
                if entry.day != day { entry = Day(day: day, spent: 0) }
                entry.spent += cost
                spent[key] = entry
            }
        }
    }

    /// The first budget the cost would overrun: `nil` when within every budget.
    public func exceeded(_ budget: TenantLimits.Budget, cost: Double, tenantID: UUID, agentID: String, day: Int) -> String? {
        if let limit = budget.tenantDaily, spent(tenantID: tenantID, agentID: nil, day: day) + cost > limit { return "tenant" }
        if let limit = budget.agents[agentID] ?? budget.agentDaily, spent(tenantID: tenantID, agentID: agentID, day: day) + cost > limit {
            return "agent"
        }
        return nil
    }

    /// `warden_budget_used_ratio{tenant}`: today's spend over the tenant's daily budget.
    public func recordUsed(_ tenant: Tenant, ratio: Double) {
        let gauge = used.withLock { gauges in
            if let gauge = gauges[tenant.id] { return gauge }
            let gauge = Gauge(label: "warden_budget_used_ratio", dimensions: [("tenant", tenant.slug)])
            gauges[tenant.id] = gauge
            return gauge
        }
        gauge.record(ratio)
    }

    /// `warden_budget_rejections_total{tenant}`.
    public func countRejection(_ tenant: Tenant) { rejections.increment(tenant) }
}

/// One counter per tenant (`label{tenant="…"}`), made the first time the tenant counts, so the hot path
/// does not ask the metrics factory each time.
public final class TenantCounters: Sendable {
    let label: String
    private let counters = Mutex<[UUID: Counter]>([:])

    public init(_ label: String) { self.label = label }

    public func increment(_ tenant: Tenant) {
        let counter = counters.withLock { counters in
            if let counter = counters[tenant.id] { return counter }
            let counter = Counter(label: label, dimensions: [("tenant", tenant.slug)])
            counters[tenant.id] = counter
            return counter
        }
        counter.increment()
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
