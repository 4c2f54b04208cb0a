import Foundation
import SQLKit
import WardenCore

struct SQLIncidentRepository: IncidentRepository {
    let db: any SQLDatabase

    static let columns = [
        "id", "tenant_id", "number", "severity", "source", "title", "status", "bundle_id", "action", "details", "created_by", "created_at",
    ]

    func insert(_ incident: Incident) async throws -> Incident {
        // The tenant's next number this year. The tenant's row is locked first (a no-op update), so
        // concurrent incidents of one tenant on PostgreSQL take numbers one after the other; SQLite has
        // one writer anyway. The (tenant_id, number) key is the last line of defence.
        try await db.raw("UPDATE tenants SET event_seq = event_seq WHERE id = \(bind: incident.tenantID.uuidString.lowercased())").run()
        let year = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: incident.createdAt).year ?? 1970
        let prefix = "INC-\(year)-"
        let row = try await db.select().column(SQLFunction("COUNT", args: SQLLiteral.all), as: "n").from("incidents")
            .where("tenant_id", .equal, incident.tenantID.uuidString.lowercased()).where("number", .like, prefix + "%").first()
        var numbered = incident
        numbered.number = Incident.number(year: year, sequence: (try row?.decode(column: "n", as: Int.self) ?? 0) + 1)
        try await db.insert(into: "incidents").columns(Self.columns)
            .values(
                SQLBind(numbered.id.uuidString.lowercased()), SQLBind(numbered.tenantID.uuidString.lowercased()), SQLBind(numbered.number),
                SQLBind(numbered.severity.rawValue), SQLBind(numbered.source), SQLBind(numbered.title), SQLBind(numbered.status),
                SQLBind(numbered.bundleID?.uuidString.lowercased()), SQLBind(numbered.action), SQLBind(numbered.details.canonicalText),
                SQLBind(numbered.createdBy), SQLBind(Timestamp.format(numbered.createdAt))
            )
            .run()
        return numbered
    }

    func list(tenantID: UUID, _ page: PageRequest) async throws -> Page<Incident> {
        let rows = try await db.select().columns(Self.columns).from("incidents").where("tenant_id", .equal, tenantID.uuidString.lowercased())
            .page(page, descending: true).all()
        return Page(fetched: try rows.map(Self.decode), limit: page.limit) {
            Cursor(createdAt: Timestamp.format($0.createdAt), id: $0.id.uuidString.lowercased())
        }
    }

    static func decode(_ row: any SQLRow) throws -> Incident {
        guard let severity = Incident.Severity(rawValue: try row.decode(column: "severity", as: String.self)) else {
            throw StoreError(message: "incidents.severity holds an unknown severity")
        }
        return Incident(
            id: try row.decodeUUID("id"), tenantID: try row.decodeUUID("tenant_id"), number: try row.decode(column: "number", as: String.self),
            severity: severity, source: try row.decode(column: "source", as: String.self), title: try row.decode(column: "title", as: String.self),
            status: try row.decode(column: "status", as: String.self),
            bundleID: try row.decode(column: "bundle_id", as: String?.self).flatMap(UUID.init(uuidString:)),
            action: try row.decode(column: "action", as: String?.self),
            details: JSONValue.parse(try row.decode(column: "details", as: String.self)) ?? .null,
            createdBy: try row.decode(column: "created_by", as: String.self), createdAt: try row.decodeDate("created_at"))
    }
}
