import Foundation
import SQLKit
import WardenCore

struct SQLAgentRepository: AgentRepository {
    let db: any SQLDatabase

    static let columns = ["id", "tenant_id", "agent_id", "roles", "created_at", "created_by"]

    func insert(_ agent: Agent) async throws {
        do {
            try await db.insert(into: "agents").columns(Self.columns)
                .values(
                    SQLBind(agent.id.uuidString.lowercased()), SQLBind(agent.tenantID.uuidString.lowercased()), SQLBind(agent.agentID),
                    SQLBind(StoredJSON.encode(agent.roles)), SQLBind(Timestamp.format(agent.createdAt)), SQLBind(agent.createdBy)
                )
                .run()
        } catch  where StoreError.isUniqueViolation(error) {
            throw WardenError(.agentExists, "agent '\(agent.agentID)' already exists")
        }
    }

    func find(tenantID: UUID, agentID: String) async throws -> Agent? {
        try await db.select().columns(Self.columns).from("agents")
            .where("tenant_id", .equal, tenantID.uuidString.lowercased()).where("agent_id", .equal, agentID)
            .first().map(Self.decode)
    }

    func all(tenantID: UUID) async throws -> [Agent] {
        try await db.select().columns(Self.columns).from("agents")
            .where("tenant_id", .equal, tenantID.uuidString.lowercased()).all().map(Self.decode)
    }

    func list(tenantID: UUID, _ page: PageRequest) async throws -> Page<Agent> {
        let rows = try await db.select().columns(Self.columns).from("agents")
            .where("tenant_id", .equal, tenantID.uuidString.lowercased()).page(page, descending: false).all()
        return Page(fetched: try rows.map(Self.decode), limit: page.limit) {
            Cursor(createdAt: Timestamp.format($0.createdAt), id: $0.id.uuidString.lowercased())
        }
    }

    static func decode(_ row: any SQLRow) throws -> Agent {
        Agent(
            id: try row.decodeUUID("id"),
            tenantID: try row.decodeUUID("tenant_id"),
            agentID: try row.decode(column: "agent_id", as: String.self),
            roles: try StoredJSON.decode([String].self, try row.decode(column: "roles", as: String.self), column: "agents.roles"),
            createdAt: try row.decodeDate("created_at"),
            createdBy: try row.decode(column: "created_by", as: String.self)
        )
    }
}

struct SQLAgentTokenRepository: AgentTokenRepository {
    let db: any SQLDatabase

    static let columns = ["id", "tenant_id", "agent_id", "expires_at", "created_at", "created_by", "revoked_at"]

    func insert(_ token: AgentToken) async throws {
        try await db.insert(into: "agent_tokens").columns(Self.columns)
            .values(
                SQLBind(token.id.uuidString.lowercased()), SQLBind(token.tenantID.uuidString.lowercased()), SQLBind(token.agentID),
                SQLBind(Timestamp.format(token.expiresAt)), SQLBind(Timestamp.format(token.createdAt)), SQLBind(token.createdBy),
                SQLBind(token.revokedAt.map(Timestamp.format))
            )
            .run()
    }

    func find(id: UUID) async throws -> AgentToken? {
        try await db.select().columns(Self.columns).from("agent_tokens").where("id", .equal, id.uuidString.lowercased()).first().map {
            row in
            AgentToken(
                id: try row.decodeUUID("id"),
                tenantID: try row.decodeUUID("tenant_id"),
                agentID: try row.decode(column: "agent_id", as: String.self),
                expiresAt: try row.decodeDate("expires_at"),
                createdAt: try row.decodeDate("created_at"),
                createdBy: try row.decode(column: "created_by", as: String.self),
                revokedAt: try row.decodeOptionalDate("revoked_at")
            )
        }
    }

    func markRevoked(id: UUID, at date: Date) async throws {
        try await db.update("agent_tokens").set("revoked_at", to: Timestamp.format(date)).where("id", .equal, id.uuidString.lowercased()).run()
    }

    func revokedUnexpired(now: Date) async throws -> [UUID] {
        // Fixed-width RFC 3339 text compares in time order.
        try await db.select().column("id").from("agent_tokens")
            .where("revoked_at", .isNot, SQLLiteral.null)
            .where("expires_at", .greaterThan, Timestamp.format(now))
            .all().map { try $0.decodeUUID("id") }
    }
}

struct SQLSigningKeyRepository: SigningKeyRepository {
    let db: any SQLDatabase

    func find(purpose: String) async throws -> (id: String, key: [UInt8])? {
        guard let row = try await db.select().columns("key_id", "private_key").from("signing_keys").where("purpose", .equal, purpose).first()
        else { return nil }
        guard let key = Data(base64Encoded: try row.decode(column: "private_key", as: String.self)) else {
            throw StoreError(message: "signing_keys.private_key is not valid base64")
        }
        return (try row.decode(column: "key_id", as: String.self), Array(key))
    }

    func all() async throws -> [(purpose: String, id: String, key: [UInt8], createdAt: Date)] {
        try await db.select().columns("purpose", "key_id", "private_key", "created_at").from("signing_keys").orderBy("created_at").all().map {
            row in
            guard let key = Data(base64Encoded: try row.decode(column: "private_key", as: String.self)) else {
                throw StoreError(message: "signing_keys.private_key is not valid base64")
            }
            return (
                try row.decode(column: "purpose", as: String.self), try row.decode(column: "key_id", as: String.self), Array(key),
                try row.decodeDate("created_at")
            )
        }
    }

    func rotate(purpose: String, to id: String, key: [UInt8], at date: Date, retiredPublicKey: [UInt8], by actor: String) async throws {
        let select = db.select().columns("key_id", "created_at").from("signing_keys").where("purpose", .equal, purpose)
        if db.dialect.name == "postgresql" { select.lockingClause(SQLRaw("FOR UPDATE")) }
        guard let row = try await select.first() else { throw WardenError(.notFound, "no signing key for '\(purpose)'") }
        let values: [any Encodable & Sendable] = [
            try row.decode(column: "key_id", as: String.self), purpose, Data(retiredPublicKey).base64EncodedString(),
            try row.decode(column: "created_at", as: String.self), Timestamp.format(date), actor,
        ]
        try await db.raw(
            "INSERT INTO retired_signing_keys (key_id, purpose, public_key, created_at, retired_at, retired_by) VALUES (\(binds: values))"
        ).run()
        try await db.update("signing_keys").set("key_id", to: id).set("private_key", to: Data(key).base64EncodedString())
            .set("created_at", to: Timestamp.format(date)).where("purpose", .equal, purpose).run()
    }

    func retired() async throws -> [(id: String, purpose: String, publicKey: [UInt8], createdAt: Date, retiredAt: Date)] {
        try await db.raw("SELECT key_id, purpose, public_key, created_at, retired_at FROM retired_signing_keys ORDER BY retired_at").all().map {
            row in
            guard let key = Data(base64Encoded: try row.decode(column: "public_key", as: String.self)) else {
                throw StoreError(message: "retired_signing_keys.public_key is not valid base64")
            }
            return (
                try row.decode(column: "key_id", as: String.self), try row.decode(column: "purpose", as: String.self), Array(key),
                try row.decodeDate("created_at"), try row.decodeDate("retired_at")
            )
        }
    }

    func insertIfAbsent(purpose: String, id: String, key: [UInt8], at date: Date) async throws -> (id: String, key: [UInt8]) {
        if let existing = try await find(purpose: purpose) { return existing }
        try await db.insert(into: "signing_keys").columns("purpose", "key_id", "private_key", "created_at")
            .values(SQLBind(purpose), SQLBind(id), SQLBind(Data(key).base64EncodedString()), SQLBind(Timestamp.format(date)))
            .ignoringConflicts(with: ["purpose"])
            .run()
        guard let stored = try await find(purpose: purpose) else { throw StoreError(message: "signing key was not stored") }
        return stored
    }
}

/// JSON text columns (lists, objects).
enum StoredJSON {
    static func encode(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
    }

    /// A list of strings as a JSON array, by `JSONValue`'s writer (the decision log writes one per record).
    static func encode(_ strings: [String]) -> String {
        JSONValue.array(strings.map(JSONValue.string)).canonicalText
    }

    static func decode<T: Decodable>(_ type: T.Type, _ text: String, column: String) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(text.utf8))
        } catch {
            throw StoreError(message: "\(column) holds invalid JSON")
        }
    }
}
