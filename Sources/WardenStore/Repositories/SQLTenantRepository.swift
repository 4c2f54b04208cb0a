import Foundation
import SQLKit
import WardenCore

struct SQLTenantRepository: TenantRepository {
    let db: any SQLDatabase

    static let columns = [
        "id", "slug", "name", "created_at", "default_effect", "notification_url", "rollout_settings", "force_manual_approval",
        "approval_settings", "escalation_paused", "webhooks_paused", "limits", "panic",
    ]

    func insert(_ tenant: Tenant) async throws {
        do {
            try await db.insert(into: "tenants")
                .columns("id", "slug", "name", "created_at", "default_effect")
                .values(
                    SQLBind(tenant.id.uuidString.lowercased()), SQLBind(tenant.slug), SQLBind(tenant.name),
                    SQLBind(Timestamp.format(tenant.createdAt)), SQLBind(tenant.defaultEffect.rawValue)
                )
                .run()
        } catch  where StoreError.isUniqueViolation(error) {
            throw WardenError(.tenantExists, "a tenant with slug '\(tenant.slug)' already exists")
        }
    }

    func find(slug: String) async throws -> Tenant? {
        try await db.select().columns(Self.columns).from("tenants")
            .where("slug", .equal, slug).first().map(Self.decode)
    }

    func find(id: UUID) async throws -> Tenant? {
        try await db.select().columns(Self.columns).from("tenants")
            .where("id", .equal, id.uuidString.lowercased()).first().map(Self.decode)
    }

    func list(_ page: PageRequest) async throws -> Page<Tenant> {
        let rows = try await db.select().columns(Self.columns).from("tenants")
            .page(page, descending: false).all()
        return Page(fetched: try rows.map(Self.decode), limit: page.limit) {
            Cursor(createdAt: Timestamp.format($0.createdAt), id: $0.id.uuidString.lowercased())
        }
    }

    func slugs(ids: some Collection<UUID> & Sendable) async throws -> [UUID: String] {
        let keys = Set(ids.map { $0.uuidString.lowercased() })
        guard !keys.isEmpty else { return [:] }
        let rows = try await db.select().columns("id", "slug").from("tenants").where("id", .in, Array(keys)).all()
        var slugs: [UUID: String] = [:]
        for row in rows { slugs[try row.decodeUUID("id")] = try row.decode(column: "slug", as: String.self) }
        return slugs
    }

    func update(defaultEffect: DefaultEffect, tenantID: UUID) async throws {
        try await db.update("tenants").set("default_effect", to: defaultEffect.rawValue)
            .where("id", .equal, tenantID.uuidString.lowercased()).run()
    }

    func update(notificationURL: String?, tenantID: UUID) async throws {
        try await db.update("tenants").set("notification_url", to: SQLBind(notificationURL))
            .where("id", .equal, tenantID.uuidString.lowercased()).run()
    }

    func update(gateThresholds: GateThresholds?, tenantID: UUID) async throws {
        try await db.update("tenants").set("rollout_settings", to: SQLBind(gateThresholds.map(StoredJSON.encode)))
            .where("id", .equal, tenantID.uuidString.lowercased()).run()
    }

    func update(forceManualApproval: Bool, tenantID: UUID) async throws {
        try await db.update("tenants").set("force_manual_approval", to: forceManualApproval ? 1 : 0)
            .where("id", .equal, tenantID.uuidString.lowercased()).run()
    }

    func update(approvalSettings: ApprovalSettings?, tenantID: UUID) async throws {
        try await db.update("tenants").set("approval_settings", to: SQLBind(approvalSettings.map(StoredJSON.encode)))
            .where("id", .equal, tenantID.uuidString.lowercased()).run()
    }

    func update(escalationPaused: Bool, webhooksPaused: Bool, tenantID: UUID) async throws {
        try await db.update("tenants").set("escalation_paused", to: escalationPaused ? 1 : 0).set("webhooks_paused", to: webhooksPaused ? 1 : 0)
            .where("id", .equal, tenantID.uuidString.lowercased()).run()
    }

    func update(limits: TenantLimits?, tenantID: UUID) async throws {
        try await db.update("tenants").set("limits", to: SQLBind(limits.map(StoredJSON.encode)))
            .where("id", .equal, tenantID.uuidString.lowercased()).run()
    }

    func update(panic: PanicState?, tenantID: UUID) async throws {
        try await db.update("tenants").set("panic", to: SQLBind(panic.map(StoredJSON.encode)))
            .where("id", .equal, tenantID.uuidString.lowercased()).run()
    }

    func escalationPausedIDs() async throws -> Set<UUID> {
        Set(try await db.select().column("id").from("tenants").where("escalation_paused", .equal, 1).all().map { try $0.decodeUUID("id") })
    }

    func nextEventSequence(tenantID: UUID) async throws -> Int64 {
        let row = try await db.raw(
            "UPDATE tenants SET event_seq = event_seq + 1 WHERE id = \(bind: tenantID.uuidString.lowercased()) RETURNING event_seq"
        ).first()
        guard let row else { throw WardenError(.tenantNotFound, "tenant not found") }
        return try row.decode(column: "event_seq", as: Int64.self)
    }

    static func decode(_ row: any SQLRow) throws -> Tenant {
        let effectText = try row.decode(column: "default_effect", as: String.self)
        guard let effect = DefaultEffect(rawValue: effectText) else { throw StoreError(message: "tenants.default_effect holds an unknown effect") }
        var tenant = Tenant(
            id: try row.decodeUUID("id"),
            slug: try row.decode(column: "slug", as: String.self),
            name: try row.decode(column: "name", as: String.self),
            createdAt: try row.decodeDate("created_at"),
            defaultEffect: effect,
            notificationURL: try row.decode(column: "notification_url", as: String?.self)
        )
        tenant.gateThresholds = try row.decode(column: "rollout_settings", as: String?.self).map {
            try StoredJSON.decode(GateThresholds.self, $0, column: "tenants.rollout_settings")
        }
        tenant.forceManualApproval = try row.decode(column: "force_manual_approval", as: Int.self) != 0
        tenant.approvalSettings = try row.decode(column: "approval_settings", as: String?.self).map {
            try StoredJSON.decode(ApprovalSettings.self, $0, column: "tenants.approval_settings")
        }
        tenant.escalationPaused = try row.decode(column: "escalation_paused", as: Int.self) != 0
        tenant.webhooksPaused = try row.decode(column: "webhooks_paused", as: Int.self) != 0
        tenant.limits = try row.decode(column: "limits", as: String?.self).map {
            try StoredJSON.decode(TenantLimits.self, $0, column: "tenants.limits")
        }
        tenant.panic = try row.decode(column: "panic", as: String?.self).map { try StoredJSON.decode(PanicState.self, $0, column: "tenants.panic") }
        return tenant
    }
}

extension SQLRow {
    func decodeUUID(_ column: String) throws -> UUID {
        let text = try decode(column: column, as: String.self)
        guard let id = UUID(uuidString: text) else { throw StoreError(message: "column \(column) holds an invalid id") }
        return id
    }

    func decodeOptionalUUID(_ column: String) throws -> UUID? {
        guard let text = try decode(column: column, as: String?.self) else { return nil }
        guard let id = UUID(uuidString: text) else { throw StoreError(message: "column \(column) holds an invalid id") }
        return id
    }

    func decodeDate(_ column: String) throws -> Date {
        let text = try decode(column: column, as: String.self)
        guard let date = Timestamp.parse(text) else { throw StoreError(message: "column \(column) holds an invalid time") }
        return date
    }

    func decodeOptionalDate(_ column: String) throws -> Date? {
        guard let text = try decode(column: column, as: String?.self) else { return nil }
        guard let date = Timestamp.parse(text) else { throw StoreError(message: "column \(column) holds an invalid time") }
        return date
    }
}
