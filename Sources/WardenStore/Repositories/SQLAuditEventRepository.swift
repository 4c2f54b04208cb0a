import Foundation
import SQLKit
import WardenCore

struct SQLAuditEventRepository: AuditEventRepository {
    let db: any SQLDatabase

    static let columns = ["id", "tenant_id", "actor", "action", "target", "reason", "details", "created_at"]

    static let columnList = SQLText.columnList(columns)

    /// Raw SQL with the column list written once: every mutating action appends one, on the hot path.
    func append(_ event: AuditEvent) async throws {
        let details = JSONValue.object(event.details.mapValues(JSONValue.string)).canonicalText
        let values: [any Encodable & Sendable] = [
            event.id.uuidString.lowercased(), event.tenantID?.uuidString.lowercased(), event.actor, event.action, event.target, event.reason,
            details, Timestamp.format(event.createdAt),
        ]
        try await db.raw("INSERT INTO audit_events (\(unsafeRaw: Self.columnList)) VALUES (\(binds: values))").run()
        // Tenant events join the tenant's chain; deployment-wide ones (no tenant) have none yet.
        if let tenantID = event.tenantID { try await SQLLedgerRepository(db: db).append(tenantID: tenantID, [.audit(event)]) }
    }

    func list(_ query: AuditQuery, _ page: PageRequest) async throws -> Page<AuditEvent> {
        let select = db.select().columns(Self.columns).from("audit_events")
        if let tenantID = query.tenantID { select.where("tenant_id", .equal, tenantID.uuidString.lowercased()) }
        if let action = query.action { select.where("action", .equal, action) }
        let rows = try await select.page(page, descending: true).all()
        return Page(fetched: try rows.map(Self.decode), limit: page.limit) {
            Cursor(createdAt: Timestamp.format($0.createdAt), id: $0.id.uuidString.lowercased())
        }
    }

    static func decode(_ row: any SQLRow) throws -> AuditEvent {
        let detailsText = try row.decode(column: "details", as: String.self)
        let details = (try? JSONDecoder().decode([String: String].self, from: Data(detailsText.utf8))) ?? [:]
        return AuditEvent(
            id: try row.decodeUUID("id"),
            tenantID: try row.decodeOptionalUUID("tenant_id"),
            actor: try row.decode(column: "actor", as: String.self),
            action: try row.decode(column: "action", as: String.self),
            target: try row.decode(column: "target", as: String.self),
            reason: try row.decode(column: "reason", as: String?.self),
            details: details,
            createdAt: try row.decodeDate("created_at")
        )
    }
}
