import Foundation
import SQLKit
import WardenCore

struct SQLNotificationRepository: NotificationRepository {
    let db: any SQLDatabase

    static let columns = "id, tenant_id, url, events, format, created_by, created_at"

    func insert(_ webhook: NotificationWebhook) async throws {
        let values: [any Encodable & Sendable] = [
            webhook.id.uuidString.lowercased(), webhook.tenantID.uuidString.lowercased(), webhook.url, StoredJSON.encode(webhook.events),
            webhook.format.rawValue, webhook.createdBy, Timestamp.format(webhook.createdAt),
        ]
        try await db.raw("INSERT INTO notification_webhooks (\(unsafeRaw: Self.columns)) VALUES (\(binds: values))").run()
    }

    func list(tenantID: UUID) async throws -> [NotificationWebhook] {
        try await db.raw(
            """
            SELECT \(unsafeRaw: Self.columns) FROM notification_webhooks WHERE tenant_id = \(bind: tenantID.uuidString.lowercased())
            ORDER BY created_at, id
            """
        ).all().map(Self.decode)
    }

    func all() async throws -> [NotificationWebhook] {
        try await db.raw("SELECT \(unsafeRaw: Self.columns) FROM notification_webhooks ORDER BY created_at, id").all().map(Self.decode)
    }

    func delete(tenantID: UUID, id: UUID) async throws -> Bool {
        !(try await db.raw(
            """
            DELETE FROM notification_webhooks
            WHERE tenant_id = \(bind: tenantID.uuidString.lowercased()) AND id = \(bind: id.uuidString.lowercased()) RETURNING id
            """
        ).all()).isEmpty
    }

    static func decode(_ row: any SQLRow) throws -> NotificationWebhook {
        guard let format = NotificationWebhook.Format(rawValue: try row.decode(column: "format", as: String.self)) else {
            throw StoreError(message: "notification_webhooks holds an unknown format")
        }
        return NotificationWebhook(
            id: try row.decodeUUID("id"), tenantID: try row.decodeUUID("tenant_id"), url: try row.decode(column: "url", as: String.self),
            events: try StoredJSON.decode([String].self, try row.decode(column: "events", as: String.self), column: "notification_webhooks.events"),
            format: format, createdBy: try row.decode(column: "created_by", as: String.self), createdAt: try row.decodeDate("created_at"))
    }
}
