import Foundation
import SQLKit
import WardenCore

struct SQLWebhookDeliveryRepository: WebhookDeliveryRepository {
    let db: any SQLDatabase

    static let columns = [
        "id", "tenant_id", "approval_id", "event", "url", "body", "status", "attempts", "next_attempt_at", "last_status", "last_error",
        "created_at", "delivered_at",
    ]

    static let columnList = SQLText.columnList(columns)

    func insert(_ delivery: WebhookDelivery) async throws {
        let values: [any Encodable & Sendable] = [
            delivery.id.uuidString.lowercased(), delivery.tenantID.uuidString.lowercased(), delivery.approvalID?.uuidString.lowercased(),
            delivery.event, delivery.url, delivery.body, delivery.status.rawValue, delivery.attempts, Timestamp.format(delivery.nextAttemptAt),
            delivery.lastStatus, delivery.lastError, Timestamp.format(delivery.createdAt), delivery.deliveredAt.map(Timestamp.format),
        ]
        try await db.raw("INSERT INTO webhook_deliveries (\(unsafeRaw: Self.columnList)) VALUES (\(binds: values))").run()
    }

    func update(_ delivery: WebhookDelivery) async throws {
        try await db.update("webhook_deliveries")
            .set("status", to: delivery.status.rawValue)
            .set("attempts", to: delivery.attempts)
            .set("next_attempt_at", to: Timestamp.format(delivery.nextAttemptAt))
            .set("last_status", to: SQLBind(delivery.lastStatus))
            .set("last_error", to: SQLBind(delivery.lastError))
            .set("delivered_at", to: SQLBind(delivery.deliveredAt.map(Timestamp.format)))
            .where("id", .equal, delivery.id.uuidString.lowercased())
            .run()
    }

    func claimDue(now: Date, leaseUntil: Date, limit: Int) async throws -> [WebhookDelivery] {
        let select = db.select().columns(Self.columns).from("webhook_deliveries")
            .where("status", .equal, WebhookDeliveryStatus.pending.rawValue)
            .where("next_attempt_at", .lessThanOrEqual, Timestamp.format(now))
            .where(SQLRaw("tenant_id NOT IN (SELECT id FROM tenants WHERE webhooks_paused = 1)"))
            .orderBy("next_attempt_at").limit(limit)
        if db.dialect.name == "postgresql" { select.lockingClause(SQLRaw("FOR UPDATE SKIP LOCKED")) }
        let claimed = try await select.all().map(Self.decode)
        guard !claimed.isEmpty else { return [] }
        try await db.update("webhook_deliveries").set("next_attempt_at", to: Timestamp.format(leaseUntil))
            .where("id", .in, claimed.map { $0.id.uuidString.lowercased() }).run()
        return claimed
    }

    func find(tenantID: UUID, id: UUID) async throws -> WebhookDelivery? {
        try await db.select().columns(Self.columns).from("webhook_deliveries")
            .where("tenant_id", .equal, tenantID.uuidString.lowercased()).where("id", .equal, id.uuidString.lowercased())
            .first().map(Self.decode)
    }

    func list(tenantID: UUID, status: WebhookDeliveryStatus?, _ page: PageRequest) async throws -> Page<WebhookDelivery> {
        let select = db.select().columns(Self.columns).from("webhook_deliveries").where("tenant_id", .equal, tenantID.uuidString.lowercased())
        if let status { select.where("status", .equal, status.rawValue) }
        let rows = try await select.page(page, descending: true).all()
        return Page(fetched: try rows.map(Self.decode), limit: page.limit) {
            Cursor(createdAt: Timestamp.format($0.createdAt), id: $0.id.uuidString.lowercased())
        }
    }

    func counts(tenantID: UUID) async throws -> [WebhookDeliveryStatus: Int] {
        let rows = try await db.select().column("status").column(SQLFunction("COUNT", args: SQLLiteral.all), as: "n").from("webhook_deliveries")
            .where("tenant_id", .equal, tenantID.uuidString.lowercased()).groupBy("status").all()
        var counts: [WebhookDeliveryStatus: Int] = [:]
        for row in rows {
            if let status = WebhookDeliveryStatus(rawValue: try row.decode(column: "status", as: String.self)) {
                counts[status] = try row.decode(column: "n", as: Int.self)
            }
        }
        return counts
    }

    static func decode(_ row: any SQLRow) throws -> WebhookDelivery {
        guard let status = WebhookDeliveryStatus(rawValue: try row.decode(column: "status", as: String.self)) else {
            throw StoreError(message: "webhook_deliveries holds an unknown status")
        }
        return WebhookDelivery(
            id: try row.decodeUUID("id"), tenantID: try row.decodeUUID("tenant_id"), approvalID: try row.decodeOptionalUUID("approval_id"),
            event: try row.decode(column: "event", as: String.self), url: try row.decode(column: "url", as: String.self),
            body: try row.decode(column: "body", as: String.self), status: status, attempts: try row.decode(column: "attempts", as: Int.self),
            nextAttemptAt: try row.decodeDate("next_attempt_at"), lastStatus: try row.decode(column: "last_status", as: Int?.self),
            lastError: try row.decode(column: "last_error", as: String?.self), createdAt: try row.decodeDate("created_at"),
            deliveredAt: try row.decodeOptionalDate("delivered_at"))
    }
}
