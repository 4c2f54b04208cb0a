import Foundation
import SQLKit
import WardenCore

struct SQLApprovalRepository: ApprovalRepository {
    let db: any SQLDatabase

    static let columns = [
        "id", "tenant_id", "agent_id", "tool", "action", "input", "reason", "level", "webhook_url", "expires_at", "status", "history",
        "approvals", "webhook_attempts", "last_webhook_status", "resolved_at", "decision_id", "requested_by", "idempotency_key", "created_at",
        "escalation_step", "labels", "run_id",
    ]

    /// The column list written out once: the statements of the approval path are raw SQL, since
    /// building them (quoting every identifier) cost more CPU than running them under load.
    static let columnList = SQLText.columnList(columns)

    func insert(_ request: ApprovalRequest) async throws {
        try await db.raw("INSERT INTO approvals (\(unsafeRaw: Self.columnList)) VALUES (\(binds: Self.values(request)))").run()
        try await SQLLedgerRepository(db: db).append(tenantID: request.tenantID, [.approval(request, at: request.createdAt)])
    }

    func update(_ request: ApprovalRequest) async throws {
        try await db.raw(
            """
            UPDATE approvals SET status = \(bind: request.status.rawValue), history = \(bind: StoredJSON.encode(request.history)),
              approvals = \(bind: StoredJSON.encode(request.approvals)), webhook_attempts = \(bind: request.webhookAttempts),
              last_webhook_status = \(bind: request.lastWebhookStatus), resolved_at = \(bind: request.resolvedAt.map(Timestamp.format)),
              escalation_step = \(bind: request.escalationStep)
            WHERE id = \(bind: request.id.uuidString.lowercased())
            """
        ).run()
        // Each change of state is an entry of its own.
        try await SQLLedgerRepository(db: db).append(
            tenantID: request.tenantID, [.approval(request, at: request.history.last?.at ?? request.createdAt)])
    }

    func find(tenantID: UUID, id: UUID) async throws -> ApprovalRequest? {
        try await db.raw(
            """
            SELECT \(unsafeRaw: Self.columnList) FROM approvals
            WHERE tenant_id = \(bind: tenantID.uuidString.lowercased()) AND id = \(bind: id.uuidString.lowercased())
            """
        ).first().map(Self.decode)
    }

    func findForUpdate(tenantID: UUID, id: UUID) async throws -> ApprovalRequest? {
        let lock = db.dialect.name == "postgresql" ? " FOR UPDATE" : ""
        return try await db.raw(
            """
            SELECT \(unsafeRaw: Self.columnList) FROM approvals
            WHERE tenant_id = \(bind: tenantID.uuidString.lowercased()) AND id = \(bind: id.uuidString.lowercased())\(unsafeRaw: lock)
            """
        ).first().map(Self.decode)
    }

    func find(tenantID: UUID, idempotencyKey: String) async throws -> ApprovalRequest? {
        try await db.raw(
            """
            SELECT \(unsafeRaw: Self.columnList) FROM approvals
            WHERE tenant_id = \(bind: tenantID.uuidString.lowercased()) AND idempotency_key = \(bind: idempotencyKey)
            """
        ).first().map(Self.decode)
    }

    func list(tenantID: UUID, status: ApprovalStatus?, _ page: PageRequest) async throws -> Page<ApprovalRequest> {
        let select = db.select().columns(Self.columns).from("approvals").where("tenant_id", .equal, tenantID.uuidString.lowercased())
        if let status { select.where("status", .equal, status.rawValue) }
        let rows = try await select.page(page, descending: true).all()
        return Page(fetched: try rows.map(Self.decode), limit: page.limit) {
            Cursor(createdAt: Timestamp.format($0.createdAt), id: $0.id.uuidString.lowercased())
        }
    }

    func unresolved(tenantID: UUID?, createdBefore before: Date, limit: Int, skipLocked: Bool) async throws -> [ApprovalRequest] {
        let select = db.select().columns(Self.columns).from("approvals")
            .where("status", .in, [ApprovalStatus.pending.rawValue, ApprovalStatus.escalated.rawValue])
            .where("created_at", .lessThan, Timestamp.format(before))
        if let tenantID { select.where("tenant_id", .equal, tenantID.uuidString.lowercased()) }
        select.orderBy("created_at").limit(limit)
        if db.dialect.name == "postgresql" { select.lockingClause(SQLRaw(skipLocked ? "FOR UPDATE SKIP LOCKED" : "FOR UPDATE")) }
        return try await select.all().map(Self.decode)
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

    /// The values of `columns`, in order.
    static func values(_ request: ApprovalRequest) -> [any Encodable & Sendable] {
        [
            request.id.uuidString.lowercased(), request.tenantID.uuidString.lowercased(), request.agentID, request.tool, request.action,
            request.input.canonicalText, request.reason, request.level.rawValue, request.webhookURL, Timestamp.format(request.expiresAt),
            request.status.rawValue, StoredJSON.encode(request.history), StoredJSON.encode(request.approvals), request.webhookAttempts,
            request.lastWebhookStatus, request.resolvedAt.map(Timestamp.format), request.decisionID?.uuidString.lowercased(),
            request.requestedBy, request.idempotencyKey, Timestamp.format(request.createdAt), request.escalationStep,
            request.labels.isEmpty ? nil : StoredJSON.encode(request.labels), request.runID,
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
        request.runID = try row.decode(column: "run_id", as: String?.self)
        return request
    }
}
