import Foundation
import SQLKit
import WardenCore

struct SQLAuditEventRepository: AuditEventRepository {
    let db: any SQLDatabase

    static let columns = ["id", "tenant_id", "actor", "action", "target", "reason", "details", "created_at"]

    func append(_ event: AuditEvent) async throws {
        let details = try JSONEncoder.sorted.encode(event.details)
        try await db.insert(into: "audit_events")
            .columns(Self.columns)
            .values(
                SQLBind(event.id.uuidString.lowercased()), SQLBind(event.tenantID?.uuidString.lowercased()), SQLBind(event.actor),
                SQLBind(event.action), SQLBind(event.target), SQLBind(event.reason),
                SQLBind(String(decoding: details, as: UTF8.self)), SQLBind(Timestamp.format(event.createdAt))
            )
            .run()
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

extension JSONEncoder {
    static var sorted: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }
}
