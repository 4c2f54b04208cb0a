import Foundation
import SQLKit
import WardenCore

struct SQLBundleRepository: BundleRepository {
    let db: any SQLDatabase

    static let columns = [
        "id", "tenant_id", "version", "status", "modules", "data", "rules", "opa", "entrypoint", "default_effect", "notes", "created_by",
        "created_at",
        "updated_at", "activated_at", "activated_by",
    ]

    func insert(_ bundle: PolicyBundle) async throws {
        do {
            try await db.insert(into: "bundles").columns(Self.columns).values(Self.binds(bundle)).run()
        } catch  where StoreError.isUniqueViolation(error) {
            throw WardenError(.bundleVersionExists, "bundle version \(bundle.version) already exists")
        }
    }

    func update(_ bundle: PolicyBundle) async throws {
        try await db.update("bundles")
            .set("status", to: bundle.status.rawValue)
            .set("modules", to: StoredJSON.encode(bundle.modules))
            .set("data", to: StoredJSON.encode(bundle.data))
            .set("rules", to: StoredJSON.encode(bundle.rules))
            .set("opa", to: SQLBind(bundle.opa.map(StoredJSON.encode)))
            .set("entrypoint", to: bundle.entrypoint)
            .set("default_effect", to: bundle.defaultEffect.rawValue)
            .set("notes", to: SQLBind(bundle.notes))
            .set("updated_at", to: Timestamp.format(bundle.updatedAt))
            .set("activated_at", to: SQLBind(bundle.activatedAt.map(Timestamp.format)))
            .set("activated_by", to: SQLBind(bundle.activatedBy))
            .where("id", .equal, bundle.id.uuidString.lowercased())
            .run()
    }

    func find(tenantID: UUID, id: UUID) async throws -> PolicyBundle? {
        try await db.select().columns(Self.columns).from("bundles")
            .where("tenant_id", .equal, tenantID.uuidString.lowercased()).where("id", .equal, id.uuidString.lowercased())
            .first().map(Self.decode)
    }

    func find(tenantID: UUID, version: SemanticVersion) async throws -> PolicyBundle? {
        try await db.select().columns(Self.columns).from("bundles")
            .where("tenant_id", .equal, tenantID.uuidString.lowercased()).where("version", .equal, version.description)
            .first().map(Self.decode)
    }

    func active(tenantID: UUID) async throws -> PolicyBundle? {
        try await db.select().columns(Self.columns).from("bundles")
            .where("tenant_id", .equal, tenantID.uuidString.lowercased()).where("status", .equal, BundleStatus.active.rawValue)
            .first().map(Self.decode)
    }

    func versions(tenantID: UUID) async throws -> [SemanticVersion] {
        let rows = try await db.select().column("version").from("bundles").where("tenant_id", .equal, tenantID.uuidString.lowercased()).all()
        return try rows.compactMap { SemanticVersion(try $0.decode(column: "version", as: String.self)) }
    }

    func list(_ query: BundleQuery, _ page: PageRequest) async throws -> Page<PolicyBundle> {
        let select = db.select().columns(Self.columns).from("bundles").where("tenant_id", .equal, query.tenantID.uuidString.lowercased())
        if let version = query.version { select.where("version", .equal, version) }
        if query.activeOnly { select.where("status", .equal, BundleStatus.active.rawValue) }
        let rows = try await select.page(page, descending: true).all()
        return Page(fetched: try rows.map(Self.decode), limit: page.limit) {
            Cursor(createdAt: Timestamp.format($0.createdAt), id: $0.id.uuidString.lowercased())
        }
    }

    static func binds(_ bundle: PolicyBundle) -> [any SQLExpression] {
        [
            SQLBind(bundle.id.uuidString.lowercased()), SQLBind(bundle.tenantID.uuidString.lowercased()), SQLBind(bundle.version.description),
            SQLBind(bundle.status.rawValue), SQLBind(StoredJSON.encode(bundle.modules)), SQLBind(StoredJSON.encode(bundle.data)),
            SQLBind(StoredJSON.encode(bundle.rules)), SQLBind(bundle.opa.map(StoredJSON.encode)),
            SQLBind(bundle.entrypoint), SQLBind(bundle.defaultEffect.rawValue), SQLBind(bundle.notes), SQLBind(bundle.createdBy),
            SQLBind(Timestamp.format(bundle.createdAt)), SQLBind(Timestamp.format(bundle.updatedAt)),
            SQLBind(bundle.activatedAt.map(Timestamp.format)), SQLBind(bundle.activatedBy),
        ]
    }

    static func decode(_ row: any SQLRow) throws -> PolicyBundle {
        let versionText = try row.decode(column: "version", as: String.self)
        guard let version = SemanticVersion(versionText) else {
            throw StoreError(message: "bundles.version holds '\(versionText)', not a semantic version")
        }
        guard let status = BundleStatus(rawValue: try row.decode(column: "status", as: String.self)) else {
            throw StoreError(message: "bundles.status holds an unknown status")
        }
        guard let defaultEffect = DefaultEffect(rawValue: try row.decode(column: "default_effect", as: String.self)) else {
            throw StoreError(message: "bundles.default_effect holds an unknown effect")
        }
        return PolicyBundle(
            id: try row.decodeUUID("id"),
            tenantID: try row.decodeUUID("tenant_id"),
            version: version,
            status: status,
            modules: try StoredJSON.decode([String: String].self, try row.decode(column: "modules", as: String.self), column: "bundles.modules"),
            data: try StoredJSON.decode(JSONValue.self, try row.decode(column: "data", as: String.self), column: "bundles.data"),
            rules: try StoredJSON.decode(JSONValue.self, try row.decode(column: "rules", as: String.self), column: "bundles.rules"),
            opa: try row.decode(column: "opa", as: String?.self).map { try StoredJSON.decode(ExternalOPA.self, $0, column: "bundles.opa") },
            entrypoint: try row.decode(column: "entrypoint", as: String.self),
            defaultEffect: defaultEffect,
            notes: try row.decode(column: "notes", as: String?.self),
            createdBy: try row.decode(column: "created_by", as: String.self),
            createdAt: try row.decodeDate("created_at"),
            updatedAt: try row.decodeDate("updated_at"),
            activatedAt: try row.decode(column: "activated_at", as: String?.self).flatMap(Timestamp.parse),
            activatedBy: try row.decode(column: "activated_by", as: String?.self)
        )
    }
}
