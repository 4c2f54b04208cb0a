import Foundation
import SQLKit
import WardenCore

struct SQLToolRepository: ToolRepository {
    let db: any SQLDatabase

    static let columns = [
        "id", "tenant_id", "name", "description", "risk", "capabilities", "approval_level", "endpoint", "compensation", "is_active",
        "state_version", "state_reason", "state_changed_at", "state_changed_by", "created_at", "updated_at",
    ]

    func insert(_ tool: Tool) async throws {
        do {
            try await db.insert(into: "tools").columns(Self.columns).values(Self.binds(tool)).run()
        } catch  where StoreError.isUniqueViolation(error) {
            throw WardenError(.toolExists, "tool '\(tool.name)' already exists")
        }
    }

    func update(_ tool: Tool) async throws {
        try await db.update("tools")
            .set("description", to: tool.description)
            .set("risk", to: tool.risk.rawValue)
            .set("capabilities", to: StoredJSON.encode(tool.capabilities))
            .set("approval_level", to: tool.approvalLevel.rawValue)
            .set("endpoint", to: SQLBind(tool.endpoint))
            .set("compensation", to: SQLBind(tool.compensation))
            .set("is_active", to: tool.isActive ? 1 : 0)
            .set("state_version", to: tool.stateVersion)
            .set("state_reason", to: SQLBind(tool.stateReason))
            .set("state_changed_at", to: SQLBind(tool.stateChangedAt.map(Timestamp.format)))
            .set("state_changed_by", to: SQLBind(tool.stateChangedBy))
            .set("updated_at", to: Timestamp.format(tool.updatedAt))
            .where("id", .equal, tool.id.uuidString.lowercased())
            .run()
    }

    func find(tenantID: UUID, name: String) async throws -> Tool? {
        try await db.select().columns(Self.columns).from("tools")
            .where("tenant_id", .equal, tenantID.uuidString.lowercased()).where("name", .equal, name)
            .first().map(Self.decode)
    }

    func all(tenantID: UUID) async throws -> [Tool] {
        try await db.select().columns(Self.columns).from("tools")
            .where("tenant_id", .equal, tenantID.uuidString.lowercased()).all().map(Self.decode)
    }

    func list(tenantID: UUID, _ page: PageRequest) async throws -> Page<Tool> {
        let rows = try await db.select().columns(Self.columns).from("tools")
            .where("tenant_id", .equal, tenantID.uuidString.lowercased()).page(page, descending: false).all()
        return Page(fetched: try rows.map(Self.decode), limit: page.limit) {
            Cursor(createdAt: Timestamp.format($0.createdAt), id: $0.id.uuidString.lowercased())
        }
    }

    static let ackColumns = ["tool_id", "adapter_id", "state_version", "acknowledged_at"]

    func acks(toolID: UUID) async throws -> [AdapterAck] {
        try await acks(toolIDs: [toolID])[toolID] ?? []
    }

    func acks(toolIDs: [UUID]) async throws -> [UUID: [AdapterAck]] {
        guard !toolIDs.isEmpty else { return [:] }
        let rows = try await db.select().columns(Self.ackColumns).from("adapter_acks")
            .where("tool_id", .in, toolIDs.map { $0.uuidString.lowercased() })
            .orderBy("adapter_id").all()
        var result: [UUID: [AdapterAck]] = [:]
        for row in rows {
            let ack = AdapterAck(
                toolID: try row.decodeUUID("tool_id"),
                adapterID: try row.decode(column: "adapter_id", as: String.self),
                stateVersion: try row.decode(column: "state_version", as: Int.self),
                acknowledgedAt: try row.decodeDate("acknowledged_at")
            )
            result[ack.toolID, default: []].append(ack)
        }
        return result
    }

    func upsert(_ ack: AdapterAck) async throws {
        try await db.insert(into: "adapter_acks").columns(Self.ackColumns)
            .values(
                SQLBind(ack.toolID.uuidString.lowercased()), SQLBind(ack.adapterID), SQLBind(ack.stateVersion),
                SQLBind(Timestamp.format(ack.acknowledgedAt))
            )
            .onConflict(with: ["tool_id", "adapter_id"]) { conflict in
                conflict.set(excludedValueOf: "state_version").set(excludedValueOf: "acknowledged_at")
            }
            .run()
    }

    static func binds(_ tool: Tool) -> [any SQLExpression] {
        [
            SQLBind(tool.id.uuidString.lowercased()), SQLBind(tool.tenantID.uuidString.lowercased()), SQLBind(tool.name),
            SQLBind(tool.description), SQLBind(tool.risk.rawValue), SQLBind(StoredJSON.encode(tool.capabilities)),
            SQLBind(tool.approvalLevel.rawValue), SQLBind(tool.endpoint), SQLBind(tool.compensation), SQLBind(tool.isActive ? 1 : 0),
            SQLBind(tool.stateVersion), SQLBind(tool.stateReason), SQLBind(tool.stateChangedAt.map(Timestamp.format)),
            SQLBind(tool.stateChangedBy), SQLBind(Timestamp.format(tool.createdAt)), SQLBind(Timestamp.format(tool.updatedAt)),
        ]
    }

    static func decode(_ row: any SQLRow) throws -> Tool {
        guard let risk = Risk(rawValue: try row.decode(column: "risk", as: String.self)) else {
            throw StoreError(message: "tools.risk holds an unknown risk")
        }
        guard let level = ApprovalLevel(rawValue: try row.decode(column: "approval_level", as: String.self)) else {
            throw StoreError(message: "tools.approval_level holds an unknown level")
        }
        return Tool(
            id: try row.decodeUUID("id"),
            tenantID: try row.decodeUUID("tenant_id"),
            name: try row.decode(column: "name", as: String.self),
            description: try row.decode(column: "description", as: String.self),
            risk: risk,
            capabilities: try StoredJSON.decode([String].self, try row.decode(column: "capabilities", as: String.self), column: "tools.capabilities"),
            approvalLevel: level,
            endpoint: try row.decode(column: "endpoint", as: String?.self),
            compensation: try row.decode(column: "compensation", as: String?.self),
            isActive: try row.decode(column: "is_active", as: Int.self) != 0,
            stateVersion: try row.decode(column: "state_version", as: Int.self),
            stateReason: try row.decode(column: "state_reason", as: String?.self),
            stateChangedAt: try row.decodeOptionalDate("state_changed_at"),
            stateChangedBy: try row.decode(column: "state_changed_by", as: String?.self),
            createdAt: try row.decodeDate("created_at"),
            updatedAt: try row.decodeDate("updated_at")
        )
    }
}

struct SQLEventRepository: EventRepository {
    let db: any SQLDatabase

    func insert(_ event: TenantEvent) async throws {
        try await db.insert(into: "tenant_events").columns("tenant_id", "seq", "type", "data", "created_at")
            .values(
                SQLBind(event.tenantID.uuidString.lowercased()), SQLBind(event.sequence), SQLBind(event.type),
                SQLBind(event.data.canonicalText), SQLBind(Timestamp.format(event.createdAt))
            )
            .run()
    }

    func latestSequence(tenantID: UUID) async throws -> Int64 {
        try await db.raw("SELECT MAX(seq) AS last FROM tenant_events WHERE tenant_id = \(bind: tenantID.uuidString.lowercased())").first()
            .flatMap { try $0.decode(column: "last", as: Int64?.self) } ?? 0
    }

    func list(tenantID: UUID, after: Int64, limit: Int) async throws -> [TenantEvent] {
        try await db.select().columns("tenant_id", "seq", "type", "data", "created_at").from("tenant_events")
            .where("tenant_id", .equal, tenantID.uuidString.lowercased()).where("seq", .greaterThan, after)
            .orderBy("seq").limit(limit).all()
            .map { row in
                TenantEvent(
                    tenantID: try row.decodeUUID("tenant_id"),
                    sequence: try row.decode(column: "seq", as: Int64.self),
                    type: try row.decode(column: "type", as: String.self),
                    data: try StoredJSON.decode(JSONValue.self, try row.decode(column: "data", as: String.self), column: "tenant_events.data"),
                    createdAt: try row.decodeDate("created_at")
                )
            }
    }
}
