import Foundation
import SQLKit
import WardenCore

struct SQLDecisionRepository: DecisionRepository {
    let db: any SQLDatabase

    static let columns = [
        "id", "tenant_id", "agent_id", "tool", "action", "input", "effect", "reasons", "bundle", "run_id", "cost", "evaluated_ns",
        "created_at", "trace_id", "bundle_id", "cohort", "labels",
    ]
    /// Rows per INSERT statement (the decision log writes up to 1,000 at once): 8,500 binds, below SQLite's limit
    /// (250,000 as sqlite-nio builds it) and PostgreSQL's 65,535.
    static let rowsPerStatement = 500

    func insert(_ records: [DecisionRecord]) async throws {
        try await insert(records, ledger: records.map(LedgerItem.decision))
    }

    func insert(_ records: [DecisionRecord], ledger items: [LedgerItem]) async throws {
        var inserted = Set<String>()
        var start = 0
        while start < records.count {
            let chunk = records[start..<min(start + Self.rowsPerStatement, records.count)]
            let insert = db.insert(into: "decisions").columns(Self.columns)
            for record in chunk { insert.values(Self.binds(record)) }
            // Only rows really inserted join the ledger: a retried batch adds nothing twice.
            for row in try await insert.ignoringConflicts(with: ["id"]).returning("id").all() {
                inserted.insert(try row.decode(column: "id", as: String.self))
            }
            start += chunk.count
        }
        // Each tenant's decisions join its chain in one append; tenants in a fixed order, so two
        // writers never wait on each other's chain heads in opposite orders.
        var byTenant: [UUID: [LedgerItem]] = [:]
        for (record, item) in zip(records, items) where inserted.contains(item.recordID) {
            byTenant[record.tenantID, default: []].append(item)
        }
        let ledger = SQLLedgerRepository(db: db)
        for tenantID in byTenant.keys.sorted(by: { $0.uuidString < $1.uuidString }) {
            try await ledger.append(tenantID: tenantID, byTenant[tenantID] ?? [])
        }
    }

    func spend(tenantID: UUID, since: Date) async throws -> [String: Double] {
        let rows = try await db.raw(
            """
            SELECT agent_id, SUM(cost) AS spent FROM decisions
            WHERE tenant_id = \(bind: tenantID.uuidString.lowercased()) AND created_at >= \(bind: Timestamp.format(since))
              AND effect <> 'deny' AND cost IS NOT NULL
            GROUP BY agent_id
            """
        ).all()
        var spend: [String: Double] = [:]
        for row in rows { spend[try row.decode(column: "agent_id", as: String.self)] = try row.decode(column: "spent", as: Double?.self) ?? 0 }
        return spend
    }

    func find(tenantID: UUID, id: UUID) async throws -> DecisionRecord? {
        try await db.select().columns(Self.columns).from("decisions")
            .where("tenant_id", .equal, tenantID.uuidString.lowercased()).where("id", .equal, id.uuidString.lowercased())
            .first().map(Self.decode)
    }

    func list(_ query: DecisionQuery, _ page: PageRequest) async throws -> Page<DecisionRecord> {
        let select = db.select().columns(Self.columns).from("decisions").where("tenant_id", .equal, query.tenantID.uuidString.lowercased())
        if let effect = query.effect { select.where("effect", .equal, effect.rawValue) }
        if let tool = query.tool { select.where("tool", .equal, tool) }
        if let agent = query.agentID { select.where("agent_id", .equal, agent) }
        if let bundle = query.bundle { select.where("bundle", .equal, bundle) }
        if let since = query.since { select.where("created_at", .greaterThanOrEqual, Timestamp.format(since)) }
        if let until = query.until { select.where("created_at", .lessThan, Timestamp.format(until)) }
        let rows = try await select.page(page, descending: true).all()
        return Page(fetched: try rows.map(Self.decode), limit: page.limit) {
            Cursor(createdAt: Timestamp.format($0.createdAt), id: $0.id.uuidString.lowercased())
        }
    }

    func count(tenantID: UUID) async throws -> Int {
        let row = try await db.select().column(SQLFunction("COUNT", args: SQLLiteral.all), as: "n").from("decisions")
            .where("tenant_id", .equal, tenantID.uuidString.lowercased()).first()
        return try row?.decode(column: "n", as: Int.self) ?? 0
    }

    func summary(tenantID: UUID, since: Date) async throws -> DecisionSummary {
        let row = try await db.raw(
            """
            SELECT SUM(CASE WHEN effect = 'allow' THEN 1 ELSE 0 END) AS allows,
                   SUM(CASE WHEN effect = 'deny' THEN 1 ELSE 0 END) AS denies,
                   SUM(CASE WHEN effect = 'require_approval' THEN 1 ELSE 0 END) AS approvals,
                   SUM(CASE WHEN reasons LIKE '%"policy_error"%' OR reasons LIKE '%"policy_unavailable"%' THEN 1 ELSE 0 END) AS errors
            FROM decisions
            WHERE tenant_id = \(bind: tenantID.uuidString.lowercased()) AND created_at >= \(bind: Timestamp.format(since))
            """
        ).first()
        guard let row else { return DecisionSummary() }
        return DecisionSummary(
            allow: try row.decode(column: "allows", as: Int?.self) ?? 0, deny: try row.decode(column: "denies", as: Int?.self) ?? 0,
            requireApproval: try row.decode(column: "approvals", as: Int?.self) ?? 0, errors: try row.decode(column: "errors", as: Int?.self) ?? 0)
    }

    func perMinute(tenantID: UUID, since: Date) async throws -> [String: DecisionSummary] {
        // created_at is RFC 3339 text in UTC, so its first 16 characters name the minute, in both databases.
        let rows = try await db.raw(
            """
            SELECT SUBSTR(created_at, 1, 16) AS minute, effect, COUNT(*) AS n FROM decisions
            WHERE tenant_id = \(bind: tenantID.uuidString.lowercased()) AND created_at >= \(bind: Timestamp.format(since))
            GROUP BY SUBSTR(created_at, 1, 16), effect
            """
        ).all()
        var minutes: [String: DecisionSummary] = [:]
        for row in rows {
            let minute = try row.decode(column: "minute", as: String.self)
            let count = try row.decode(column: "n", as: Int.self)
            switch Effect(rawValue: try row.decode(column: "effect", as: String.self)) {
            case .allow: minutes[minute, default: DecisionSummary()].allow += count
            case .deny: minutes[minute, default: DecisionSummary()].deny += count
            case .requireApproval: minutes[minute, default: DecisionSummary()].requireApproval += count
            case nil: continue
            }
        }
        return minutes
    }

    func cohortStats(tenantID: UUID, canaryBundleID: UUID, since: Date) async throws -> [Cohort: CohortStats] {
        let rows = try await db.raw(
            """
            SELECT cohort, \(unsafeRaw: Self.statsColumns) FROM decisions
            WHERE tenant_id = \(bind: tenantID.uuidString.lowercased()) AND created_at >= \(bind: Timestamp.format(since))
              AND (cohort = 'baseline' OR (cohort = 'canary' AND bundle_id = \(bind: canaryBundleID.uuidString.lowercased())))
            GROUP BY cohort
            """
        ).all()
        var stats: [Cohort: CohortStats] = [:]
        for row in rows {
            guard let cohort = Cohort(rawValue: try row.decode(column: "cohort", as: String.self)) else { continue }
            stats[cohort] = try Self.decodeStats(row)
        }
        return stats
    }

    func stats(tenantID: UUID, bundleID: UUID, since: Date) async throws -> CohortStats {
        let row = try await db.raw(
            """
            SELECT \(unsafeRaw: Self.statsColumns) FROM decisions
            WHERE tenant_id = \(bind: tenantID.uuidString.lowercased()) AND created_at >= \(bind: Timestamp.format(since))
              AND bundle_id = \(bind: bundleID.uuidString.lowercased())
            """
        ).first()
        return try row.map(Self.decodeStats) ?? CohortStats()
    }

    /// Counts for rollout gates: errors (`policy_error`, `policy_unavailable`), denies, no-matches, cost.
    static let statsColumns = """
        COUNT(*) AS n,
          SUM(CASE WHEN reasons LIKE '%"policy_error"%' OR reasons LIKE '%"policy_unavailable"%' THEN 1 ELSE 0 END) AS errors,
          SUM(CASE WHEN effect = 'deny' THEN 1 ELSE 0 END) AS denies,
          SUM(CASE WHEN reasons LIKE '%"no_match"%' THEN 1 ELSE 0 END) AS no_matches,
          SUM(cost) AS cost_sum, COUNT(cost) AS cost_n
        """

    static func decodeStats(_ row: any SQLRow) throws -> CohortStats {
        CohortStats(
            samples: try row.decode(column: "n", as: Int.self), errors: try row.decode(column: "errors", as: Int?.self) ?? 0,
            denies: try row.decode(column: "denies", as: Int?.self) ?? 0, noMatches: try row.decode(column: "no_matches", as: Int?.self) ?? 0,
            costSum: try row.decode(column: "cost_sum", as: Double?.self) ?? 0, costSamples: try row.decode(column: "cost_n", as: Int.self))
    }

    static func binds(_ record: DecisionRecord) -> [any SQLExpression] {
        [
            SQLBind(record.id.uuidString.lowercased()), SQLBind(record.tenantID.uuidString.lowercased()), SQLBind(record.agentID),
            SQLBind(record.tool), SQLBind(record.action), SQLBind(record.input), SQLBind(record.effect.rawValue),
            SQLBind(StoredJSON.encode(record.reasons)), SQLBind(record.bundle), SQLBind(record.runID), SQLBind(record.cost),
            SQLBind(record.evaluatedNanoseconds), SQLBind(Timestamp.format(record.createdAt)), SQLBind(record.traceID),
            SQLBind(record.bundleID?.uuidString.lowercased()), SQLBind(record.cohort?.rawValue),
            SQLBind(record.labels.isEmpty ? nil : StoredJSON.encode(record.labels)),
        ]
    }

    static func decode(_ row: any SQLRow) throws -> DecisionRecord {
        guard let effect = Effect(rawValue: try row.decode(column: "effect", as: String.self)) else {
            throw StoreError(message: "decisions.effect holds an unknown effect")
        }
        var record = DecisionRecord(
            id: try row.decodeUUID("id"),
            tenantID: try row.decodeUUID("tenant_id"),
            agentID: try row.decode(column: "agent_id", as: String.self),
            tool: try row.decode(column: "tool", as: String.self),
            action: try row.decode(column: "action", as: String.self),
            input: try row.decode(column: "input", as: String.self),
            effect: effect,
            reasons: try StoredJSON.decode([String].self, try row.decode(column: "reasons", as: String.self), column: "decisions.reasons"),
            bundle: try row.decode(column: "bundle", as: String?.self),
            bundleID: try row.decode(column: "bundle_id", as: String?.self).flatMap(UUID.init(uuidString:)),
            runID: try row.decode(column: "run_id", as: String?.self),
            cost: try row.decode(column: "cost", as: Double?.self),
            evaluatedNanoseconds: try row.decode(column: "evaluated_ns", as: Int64.self),
            createdAt: try row.decodeDate("created_at"),
            traceID: try row.decode(column: "trace_id", as: String?.self),
            cohort: try row.decode(column: "cohort", as: String?.self).flatMap(Cohort.init(rawValue:))
        )
        if let labels = try row.decode(column: "labels", as: String?.self) {
            record.labels = try StoredJSON.decode([String: DataLabel].self, labels, column: "decisions.labels")
        }
        return record
    }
}
