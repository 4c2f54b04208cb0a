import Foundation
import SQLKit
import WardenCore

struct SQLDecisionRepository: DecisionRepository {
    let db: any SQLDatabase

    static let columns = [
        "id", "tenant_id", "agent_id", "tool", "action", "input", "effect", "reasons", "bundle", "run_id", "cost", "evaluated_ns",
        "created_at", "trace_id", "bundle_id",
    ]
    /// Rows per INSERT statement: 15 binds each stays far below SQLite's and PostgreSQL's bind limits.
    static let rowsPerStatement = 200

    func insert(_ records: [DecisionRecord]) async throws {
        var start = 0
        while start < records.count {
            let chunk = records[start..<min(start + Self.rowsPerStatement, records.count)]
            let insert = db.insert(into: "decisions").columns(Self.columns)
            for record in chunk { insert.values(Self.binds(record)) }
            try await insert.ignoringConflicts(with: ["id"]).run()
            start += chunk.count
        }
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

    static func binds(_ record: DecisionRecord) -> [any SQLExpression] {
        [
            SQLBind(record.id.uuidString.lowercased()), SQLBind(record.tenantID.uuidString.lowercased()), SQLBind(record.agentID),
            SQLBind(record.tool), SQLBind(record.action), SQLBind(record.input), SQLBind(record.effect.rawValue),
            SQLBind(StoredJSON.encode(record.reasons)), SQLBind(record.bundle), SQLBind(record.runID), SQLBind(record.cost),
            SQLBind(record.evaluatedNanoseconds), SQLBind(Timestamp.format(record.createdAt)), SQLBind(record.traceID),
            SQLBind(record.bundleID?.uuidString.lowercased()),
        ]
    }

    static func decode(_ row: any SQLRow) throws -> DecisionRecord {
        guard let effect = Effect(rawValue: try row.decode(column: "effect", as: String.self)) else {
            throw StoreError(message: "decisions.effect holds an unknown effect")
        }
        return DecisionRecord(
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
            traceID: try row.decode(column: "trace_id", as: String?.self)
        )
    }
}
