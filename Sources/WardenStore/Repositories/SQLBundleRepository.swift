import Foundation
import SQLKit
import WardenCore

struct SQLBundleRepository: BundleRepository {
    let db: any SQLDatabase

    static let columns = [
        "id", "tenant_id", "version", "status", "modules", "data", "rules", "opa", "entrypoint", "default_effect", "notes", "created_by",
        "created_at",
        "updated_at", "activated_at", "activated_by", "approved_by", "approved_at", "stage_since", "previous_bundle_id", "rolled_back_at",
        "rolled_back_by", "rollback_reason",
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
            .set("approved_by", to: SQLBind(bundle.approvedBy))
            .set("approved_at", to: SQLBind(bundle.approvedAt.map(Timestamp.format)))
            .set("stage_since", to: SQLBind(bundle.stageSince.map(Timestamp.format)))
            .set("previous_bundle_id", to: SQLBind(bundle.previousBundleID?.uuidString.lowercased()))
            .set("rolled_back_at", to: SQLBind(bundle.rolledBackAt.map(Timestamp.format)))
            .set("rolled_back_by", to: SQLBind(bundle.rolledBackBy))
            .set("rollback_reason", to: SQLBind(bundle.rollbackReason))
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

    /// The bundle in a canary stage, if any (one at a time).
    func canary(tenantID: UUID) async throws -> PolicyBundle? {
        try await db.select().columns(Self.columns).from("bundles")
            .where("tenant_id", .equal, tenantID.uuidString.lowercased())
            .where("status", .in, [BundleStatus.canary10.rawValue, BundleStatus.canary50.rawValue])
            .first().map(Self.decode)
    }

    func canaries() async throws -> [PolicyBundle] {
        try await db.select().columns(Self.columns).from("bundles")
            .where("status", .in, [BundleStatus.canary10.rawValue, BundleStatus.canary50.rawValue])
            .all().map(Self.decode)
    }

    func insert(_ transition: BundleTransition) async throws {
        try await db.insert(into: "bundle_transitions")
            .columns("id", "tenant_id", "bundle_id", "from_status", "to_status", "actor", "reason", "forced", "created_at")
            .values(
                SQLBind(transition.id.uuidString.lowercased()), SQLBind(transition.tenantID.uuidString.lowercased()),
                SQLBind(transition.bundleID.uuidString.lowercased()), SQLBind(transition.from.rawValue), SQLBind(transition.to.rawValue),
                SQLBind(transition.actor), SQLBind(transition.reason), SQLBind(transition.forced ? 1 : 0),
                SQLBind(Timestamp.format(transition.createdAt))
            )
            .run()
    }

    func transitions(tenantID: UUID, bundleID: UUID) async throws -> [BundleTransition] {
        let rows = try await db.select()
            .columns("id", "tenant_id", "bundle_id", "from_status", "to_status", "actor", "reason", "forced", "created_at")
            .from("bundle_transitions")
            .where("tenant_id", .equal, tenantID.uuidString.lowercased()).where("bundle_id", .equal, bundleID.uuidString.lowercased())
            .orderBy("created_at").orderBy("id").all()
        return try rows.map { row in
            guard let from = BundleStatus(rawValue: try row.decode(column: "from_status", as: String.self)),
                let to = BundleStatus(rawValue: try row.decode(column: "to_status", as: String.self))
            else { throw StoreError(message: "bundle_transitions holds an unknown status") }
            return BundleTransition(
                id: try row.decodeUUID("id"), tenantID: try row.decodeUUID("tenant_id"), bundleID: try row.decodeUUID("bundle_id"), from: from,
                to: to, actor: try row.decode(column: "actor", as: String.self), reason: try row.decode(column: "reason", as: String?.self),
                forced: try row.decode(column: "forced", as: Int.self) != 0, createdAt: try row.decodeDate("created_at"))
        }
    }

    func versions(tenantID: UUID) async throws -> [SemanticVersion] {
        let rows = try await db.select().column("version").from("bundles").where("tenant_id", .equal, tenantID.uuidString.lowercased()).all()
        return try rows.compactMap { SemanticVersion(try $0.decode(column: "version", as: String.self)) }
    }

    func list(_ query: BundleQuery, _ page: PageRequest) async throws -> Page<PolicyBundle> {
        let select = db.select().columns(Self.columns).from("bundles").where("tenant_id", .equal, query.tenantID.uuidString.lowercased())
        if let version = query.version { select.where("version", .equal, version) }
        if query.activeOnly {
            select.where("status", .in, [BundleStatus.active.rawValue, BundleStatus.canary10.rawValue, BundleStatus.canary50.rawValue])
        }
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
            SQLBind(bundle.activatedAt.map(Timestamp.format)), SQLBind(bundle.activatedBy), SQLBind(bundle.approvedBy),
            SQLBind(bundle.approvedAt.map(Timestamp.format)), SQLBind(bundle.stageSince.map(Timestamp.format)),
            SQLBind(bundle.previousBundleID?.uuidString.lowercased()), SQLBind(bundle.rolledBackAt.map(Timestamp.format)),
            SQLBind(bundle.rolledBackBy), SQLBind(bundle.rollbackReason),
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
            activatedBy: try row.decode(column: "activated_by", as: String?.self),
            approvedAt: try row.decode(column: "approved_at", as: String?.self).flatMap(Timestamp.parse),
            approvedBy: try row.decode(column: "approved_by", as: String?.self),
            stageSince: try row.decode(column: "stage_since", as: String?.self).flatMap(Timestamp.parse),
            previousBundleID: try row.decode(column: "previous_bundle_id", as: String?.self).flatMap(UUID.init(uuidString:)),
            rolledBackAt: try row.decode(column: "rolled_back_at", as: String?.self).flatMap(Timestamp.parse),
            rolledBackBy: try row.decode(column: "rolled_back_by", as: String?.self),
            rollbackReason: try row.decode(column: "rollback_reason", as: String?.self)
        )
    }
}
