import Foundation
import SQLKit
import WardenCore

struct SQLApprovalRepository: ApprovalRepository {
    let db: any SQLDatabase

    static let columns = [
        "id", "tenant_id", "agent_id", "tool", "action", "input", "reason", "level", "webhook_url", "expires_at", "status", "history",
        "approvals", "webhook_attempts", "last_webhook_status", "resolved_at", "decision_id", "requested_by", "idempotency_key", "created_at",
        "escalation_step", "labels",
    ]

    func insert(_ request: ApprovalRequest) async throws {
        try await db.insert(into: "approvals").columns(Self.columns).values(Self.binds(request)).run()
    }

    func update(_ request: ApprovalRequest) async throws {
        try await db.update("approvals")
            .set("status", to: request.status.rawValue)
            .set("history", to: StoredJSON.encode(request.history))
            .set("approvals", to: StoredJSON.encode(request.approvals))
            .set("webhook_attempts", to: request.webhookAttempts)
            .set("last_webhook_status", to: SQLBind(request.lastWebhookStatus))
            .set("resolved_at", to: SQLBind(request.resolvedAt.map(Timestamp.format)))
            .set("escalation_step", to: request.escalationStep)
            .where("id", .equal, request.id.uuidString.lowercased())
            .run()
    }

    func find(tenantID: UUID, id: UUID) async throws -> ApprovalRequest? {
        try await db.select().columns(Self.columns).from("approvals")
            .where("tenant_id", .equal, tenantID.uuidString.lowercased()).where("id", .equal, id.uuidString.lowercased())
            .first().map(Self.decode)
    }

    func find(tenantID: UUID, idempotencyKey: String) async throws -> ApprovalRequest? {
        try await db.select().columns(Self.columns).from("approvals")
            .where("tenant_id", .equal, tenantID.uuidString.lowercased()).where("idempotency_key", .equal, idempotencyKey)
            .first().map(Self.decode)
    }

    func list(tenantID: UUID, status: ApprovalStatus?, _ page: PageRequest) async throws -> Page<ApprovalRequest> {
        let select = db.select().columns(Self.columns).from("approvals").where("tenant_id", .equal, tenantID.uuidString.lowercased())
        if let status { select.where("status", .equal, status.rawValue) }
        let rows = try await select.page(page, descending: true).all()
        return Page(fetched: try rows.map(Self.decode), limit: page.limit) {
            Cursor(createdAt: Timestamp.format($0.createdAt), id: $0.id.uuidString.lowercased())
        }
    }

    func unresolved(tenantID: UUID?, createdBefore before: Date, limit: Int) async throws -> [ApprovalRequest] {
        let select = db.select().columns(Self.columns).from("approvals")
            .where("status", .in, [ApprovalStatus.pending.rawValue, ApprovalStatus.escalated.rawValue])
            .where("created_at", .lessThan, Timestamp.format(before))
        if let tenantID { select.where("tenant_id", .equal, tenantID.uuidString.lowercased()) }
        return try await select.orderBy("created_at").limit(limit).all().map(Self.decode)
    }

    func unresolvedCount() async throws -> Int {
        let row = try await db.select().column(SQLFunction("COUNT", args: SQLLiteral.all), as: "n").from("approvals")
            .where("status", .in, [ApprovalStatus.pending.rawValue, ApprovalStatus.escalated.rawValue]).first()
        return try row?.decode(column: "n", as: Int.self) ?? 0
    }

    func recordWebhookAttempt(id: UUID, status: Int) async throws {
        try await db.update("approvals").set(SQLIdentifier("webhook_attempts"), to: SQLRaw("webhook_attempts + 1"))
            .set("last_webhook_status", to: status).where("id", .equal, id.uuidString.lowercased()).run()
    }

    static func binds(_ request: ApprovalRequest) -> [any SQLExpression] {
        [
            SQLBind(request.id.uuidString.lowercased()), SQLBind(request.tenantID.uuidString.lowercased()), SQLBind(request.agentID),
            SQLBind(request.tool), SQLBind(request.action), SQLBind(request.input.canonicalText), SQLBind(request.reason),
            SQLBind(request.level.rawValue), SQLBind(request.webhookURL), SQLBind(Timestamp.format(request.expiresAt)),
            SQLBind(request.status.rawValue), SQLBind(StoredJSON.encode(request.history)), SQLBind(StoredJSON.encode(request.approvals)),
            SQLBind(request.webhookAttempts), SQLBind(request.lastWebhookStatus), SQLBind(request.resolvedAt.map(Timestamp.format)),
            SQLBind(request.decisionID?.uuidString.lowercased()), SQLBind(request.requestedBy), SQLBind(request.idempotencyKey),
            SQLBind(Timestamp.format(request.createdAt)), SQLBind(request.escalationStep),
            SQLBind(request.labels.isEmpty ? nil : StoredJSON.encode(request.labels)),
        ]
    }

    static func decode(_ row: any SQLRow) throws -> ApprovalRequest {
        guard let level = ApprovalLevel(rawValue: try row.decode(column: "level", as: String.self)),
            let status = ApprovalStatus(rawValue: try row.decode(column: "status", as: String.self))
        else { throw StoreError(message: "approvals holds an unknown level or status") }
        var request = ApprovalRequest(
            id: try row.decodeUUID("id"), tenantID: try row.decodeUUID("tenant_id"), agentID: try row.decode(column: "agent_id", as: String.self),
            tool: try row.decode(column: "tool", as: String.self), action: try row.decode(column: "action", as: String.self),
            input: JSONValue.parse(try row.decode(column: "input", as: String.self)) ?? .null,
            reason: try row.decode(column: "reason", as: String?.self), level: level,
            webhookURL: try row.decode(column: "webhook_url", as: String?.self), expiresAt: try row.decodeDate("expires_at"), status: status,
            history: try StoredJSON.decode(
                [ApprovalRequest.Change].self, try row.decode(column: "history", as: String.self), column: "approvals.history"),
            approvals: try StoredJSON.decode([String].self, try row.decode(column: "approvals", as: String.self), column: "approvals.approvals"),
            webhookAttempts: try row.decode(column: "webhook_attempts", as: Int.self),
            lastWebhookStatus: try row.decode(column: "last_webhook_status", as: Int?.self),
            resolvedAt: try row.decode(column: "resolved_at", as: String?.self).flatMap(Timestamp.parse),
            decisionID: try row.decode(column: "decision_id", as: String?.self).flatMap(UUID.init(uuidString:)),
            requestedBy: try row.decode(column: "requested_by", as: String.self),
            idempotencyKey: try row.decode(column: "idempotency_key", as: String?.self), createdAt: try row.decodeDate("created_at"))
        request.escalationStep = try row.decode(column: "escalation_step", as: Int.self)
        request.labels =
            try row.decode(column: "labels", as: String?.self).map {
                try StoredJSON.decode([String: DataLabel].self, $0, column: "approvals.labels")
            } ?? [:]
        return request
    }
}
