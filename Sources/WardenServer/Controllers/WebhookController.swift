import Foundation
import Hummingbird
import Logging
import WardenCore

/// `/v1/tenants/{tenant}/webhooks`: the delivery queue and dead letters, the signing secret, and the
/// pause switches of webhooks and of the escalation pass (the approvals runbook's emergency steps).
struct WebhookController {
    let scope: TenantScope
    let approvals: ApprovalService
    let webhooks: WebhookService
    let snapshots: SnapshotStore

    func addRoutes(to group: RouterGroup<WardenRequestContext>) {
        group.get("/tenants/{tenant}/webhooks/deliveries", use: list)
        group.get("/tenants/{tenant}/webhooks/deliveries/{id}", use: show)
        group.post("/tenants/{tenant}/webhooks/deliveries/{id}/retry", use: retry)
        group.get("/tenants/{tenant}/webhooks/secret", use: secret)
        group.post("/tenants/{tenant}/webhooks/pause") { try await pause($0, $1, webhooks: true) }
        group.post("/tenants/{tenant}/webhooks/resume") { try await pause($0, $1, webhooks: false) }
        group.post("/tenants/{tenant}/approvals/escalation/pause") { try await pause($0, $1, escalation: true) }
        group.post("/tenants/{tenant}/approvals/escalation/resume") { try await pause($0, $1, escalation: false) }
    }

    /// `?status=pending|delivered|dead`, newest first, with the count of each status.
    @Sendable func list(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let page = try PageRequest(limit: request.query("limit"), cursor: request.query("cursor"))
        let status = try request.queryEnum("status", as: WebhookDeliveryStatus.self)
        let (tenant, principal) = try await scope.tenant(context, .readApprovals)
        let (result, counts) = try await webhooks.list(by: principal, tenant: tenant, status: status, page: page)
        var body: [String: JSONValue] = [
            "items": .array(result.items.map(Render.delivery)), "next_cursor": result.nextCursor.map(JSONValue.string) ?? .null,
        ]
        body["counts"] = .object(
            Dictionary(uniqueKeysWithValues: WebhookDeliveryStatus.allCases.map { ($0.rawValue, JSONValue.int(Int64(counts[$0] ?? 0))) }))
        body["paused"] = .bool(tenant.webhooksPaused)
        return JSONBody.response(status: .ok, JSONValue.object(body))
    }

    @Sendable func show(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let (tenant, principal) = try await scope.tenant(context, .readApprovals)
        let delivery = try await webhooks.find(by: principal, tenant: tenant, id: try Self.id(context))
        return JSONBody.response(status: .ok, Render.delivery(delivery))
    }

    /// A dead letter (or a pending delivery) sent again now, its attempts counted afresh (admin).
    @Sendable func retry(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let (tenant, principal) = try await scope.tenant(context, .readApprovals)
        let delivery = try await webhooks.retry(by: principal, tenant: tenant, id: try Self.id(context))
        return JSONBody.response(status: .ok, Render.delivery(delivery))
    }

    /// The secret receivers verify `Warden-Signature` with (admin; the read is audited).
    @Sendable func secret(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let (tenant, principal) = try await scope.tenant(context, .readApprovals)
        let secret = try await webhooks.secret(by: principal, tenant: tenant)
        return JSONBody.response(
            status: .ok,
            JSONValue.object([
                "secret": .string(secret), "algorithm": .string("HMAC-SHA256"),
                "signed_payload": .string("<t>.<raw body>, sent as Warden-Signature: t=<unix seconds>,v1=<hex>"),
            ]))
    }

    /// `{reason}`: pauses or resumes webhook delivery or the escalation pass for the tenant (admin), audited.
    func pause(_ request: Request, _ context: WardenRequestContext, escalation: Bool? = nil, webhooks: Bool? = nil) async throws -> Response {
        let fields = try JSONFields(try await JSONBody.document(from: request, context: context))
        let reason = try fields.string("reason")
        let (tenant, principal) = try await scope.tenant(context, .readApprovals)
        let updated = try await approvals.setPaused(by: principal, tenant: tenant, escalation: escalation, webhooks: webhooks, reason: reason)
        snapshots.apply(updated)
        context.logger.notice(
            "tenant.paused",
            metadata: [
                "tenant": "\(updated.slug)", "escalation_paused": "\(updated.escalationPaused)", "webhooks_paused": "\(updated.webhooksPaused)",
            ])
        return JSONBody.response(status: .ok, TenantResponse(updated))
    }

    static func id(_ context: WardenRequestContext) throws -> UUID {
        try context.id("id", .deliveryNotFound, "webhook delivery")
    }
}

extension Render {
    /// A delivery without its URL (which may carry a token): the receiver's scheme, host and port.
    static func delivery(_ delivery: WebhookDelivery) -> JSONValue {
        .object([
            "id": id(delivery.id), "event": .string(delivery.event), "receiver": .string(delivery.host),
            "status": .string(delivery.status.rawValue), "attempts": .int(Int64(delivery.attempts)),
            "next_attempt_at": delivery.status == .pending ? time(delivery.nextAttemptAt) : .null,
            "last_status": delivery.lastStatus.map { .int(Int64($0)) } ?? .null, "last_error": text(delivery.lastError),
            "approval_id": delivery.approvalID.map(id) ?? .null, "created_at": time(delivery.createdAt), "delivered_at": time(delivery.deliveredAt),
            "payload": JSONValue.parse(delivery.body) ?? .null,
        ])
    }
}
