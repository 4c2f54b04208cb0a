import Foundation
import SQLKit
import WardenCore

struct SQLAPIKeyRepository: APIKeyRepository {
    let db: any SQLDatabase

    static let columns = ["id", "name", "role", "tenant_id", "prefix", "key_hash", "created_at", "created_by", "revoked_at"]

    func insert(_ key: APIKey) async throws {
        try await db.insert(into: "api_keys")
            .columns(Self.columns)
            .values(
                SQLBind(key.id.uuidString.lowercased()), SQLBind(key.name), SQLBind(key.role.rawValue),
                SQLBind(key.tenantID?.uuidString.lowercased()), SQLBind(key.prefix), SQLBind(key.keyHash),
                SQLBind(Timestamp.format(key.createdAt)), SQLBind(key.createdBy), SQLBind(key.revokedAt.map(Timestamp.format))
            )
            .run()
    }

    func find(id: UUID) async throws -> APIKey? {
        try await db.select().columns(Self.columns).from("api_keys")
            .where("id", .equal, id.uuidString.lowercased()).first().map(Self.decode)
    }

    func find(hash: String) async throws -> APIKey? {
        try await db.select().columns(Self.columns).from("api_keys")
            .where("key_hash", .equal, hash).first().map(Self.decode)
    }

    func list(tenantID: UUID?, _ page: PageRequest) async throws -> Page<APIKey> {
        let query = db.select().columns(Self.columns).from("api_keys")
        if let tenantID { query.where("tenant_id", .equal, tenantID.uuidString.lowercased()) }
        let rows = try await query.page(page, descending: false).all()
        return Page(fetched: try rows.map(Self.decode), limit: page.limit) {
            Cursor(createdAt: Timestamp.format($0.createdAt), id: $0.id.uuidString.lowercased())
        }
    }

    func markRevoked(id: UUID, at date: Date) async throws {
        try await db.update("api_keys")
            .set("revoked_at", to: Timestamp.format(date))
            .where("id", .equal, id.uuidString.lowercased())
            .run()
    }

    func countActiveGlobal(role: Role) async throws -> Int {
        let row = try await db.select().column(SQLFunction("COUNT", args: SQLLiteral.all), as: "n").from("api_keys")
            .where("role", .equal, role.rawValue)
            .where("tenant_id", .is, SQLLiteral.null)
            .where("revoked_at", .is, SQLLiteral.null)
            .first()
        return try row?.decode(column: "n", as: Int.self) ?? 0
    }

    func countAll() async throws -> Int {
        let row = try await db.select().column(SQLFunction("COUNT", args: SQLLiteral.all), as: "n").from("api_keys").first()
        return try row?.decode(column: "n", as: Int.self) ?? 0
    }

    static func decode(_ row: any SQLRow) throws -> APIKey {
        let roleText = try row.decode(column: "role", as: String.self)
        guard let role = Role(rawValue: roleText) else { throw StoreError(message: "api_keys.role holds an unknown role") }
        return APIKey(
            id: try row.decodeUUID("id"),
            name: try row.decode(column: "name", as: String.self),
            role: role,
            tenantID: try row.decodeOptionalUUID("tenant_id"),
            prefix: try row.decode(column: "prefix", as: String.self),
            keyHash: try row.decode(column: "key_hash", as: String.self),
            createdAt: try row.decodeDate("created_at"),
            createdBy: try row.decode(column: "created_by", as: String?.self),
            revokedAt: try row.decodeOptionalDate("revoked_at")
        )
    }
}
