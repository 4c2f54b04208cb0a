import Foundation
import Hummingbird
import WardenCore

/// `/v1/tenants/{tenant}/notifications`: webhooks for operational events (kill, restore, panic,
/// rollback, incident, bypass), signed and retried like approval webhooks. Admins add and remove
/// them; keys of the tenant list them (the URL itself is never shown, only its host).
struct NotificationController {
    let scope: TenantScope
    let notifications: NotificationService

    func addRoutes(to group: RouterGroup<WardenRequestContext>) {
        group.post("/tenants/{tenant}/notifications", use: add)
        group.get("/tenants/{tenant}/notifications", use: list)
        group.delete("/tenants/{tenant}/notifications/{id}", use: remove)
    }

    /// `{url, events?: [event], format?: "warden"|"slack"}`; no events: all of them.
    @Sendable func add(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let fields = try JSONFields(try await JSONBody.document(from: request, context: context))
        let url = try fields.string("url")
        var events: [String] = []
        switch fields.optionalValue("events") {
        case nil: break
        case .array(let items)?:
            for item in items {
                guard case .string(let name) = item else { throw WardenError(.invalidField, "events must be a list of event names") }
                events.append(name)
            }
        default: throw WardenError(.invalidField, "events must be a list of event names")
        }
        let format =
            try fields.optionalString("format").map { try ToolController.parse($0, as: NotificationWebhook.Format.self, field: "format") } ?? .warden
        let (tenant, principal) = try await scope.tenant(context, .readTenant)
        let webhook = try await notifications.add(by: principal, tenant: tenant, url: url, events: events, format: format)
        return JSONBody.response(status: .created, Render.notification(webhook))
    }

    @Sendable func list(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let (tenant, principal) = try await scope.tenant(context, .readTenant)
        let items = try await notifications.list(by: principal, tenant: tenant)
        return JSONBody.response(
            status: .ok,
            JSONValue.object(["items": .array(items.map(Render.notification)), "events": .array(Notifications.events.map(JSONValue.string))]))
    }

    @Sendable func remove(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let id = try context.id("id", .notFound, "notification webhook")
        let (tenant, principal) = try await scope.tenant(context, .readTenant)
        try await notifications.remove(by: principal, tenant: tenant, id: id)
        return Response(status: .noContent)
    }
}

extension Render {
    static func notification(_ webhook: NotificationWebhook) -> JSONValue {
        .object([
            "id": id(webhook.id), "receiver": .string(WebhookDelivery.receiver(of: webhook.url)),
            "events": .array(webhook.events.map(JSONValue.string)),
            "format": .string(webhook.format.rawValue), "created_by": .string(webhook.createdBy), "created_at": time(webhook.createdAt),
        ])
    }
}
