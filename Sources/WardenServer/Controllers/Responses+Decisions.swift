import Foundation
import WardenCore

/// JSON shapes of agents, tools, events and decisions, built as `JSONValue` so absent values are explicit `null`s.
enum Render {
    static func text(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }
    static func time(_ value: Date?) -> JSONValue { value.map { .string(Timestamp.format($0)) } ?? .null }
    static func strings(_ values: [String]) -> JSONValue { .array(values.map(JSONValue.string)) }
    static func id(_ value: UUID) -> JSONValue { .string(value.uuidString.lowercased()) }

    static func agent(_ agent: Agent, tenantSlug: String) -> JSONValue {
        .object([
            "agent_id": .string(agent.agentID), "tenant": .string(tenantSlug), "roles": strings(agent.roles),
            "created_at": time(agent.createdAt), "created_by": .string(agent.createdBy),
        ])
    }

    static func token(_ token: AgentToken, secret: String?, tenantSlug: String) -> JSONValue {
        var fields: [String: JSONValue] = [
            "token_id": id(token.id), "tenant": .string(tenantSlug), "agent_id": .string(token.agentID),
            "expires_at": time(token.expiresAt), "created_at": time(token.createdAt), "revoked_at": time(token.revokedAt),
        ]
        if let secret { fields["token"] = .string(secret) }
        return .object(fields)
    }

    static func tool(_ tool: Tool, acks: [AdapterAck], tenantSlug: String) -> JSONValue {
        let adapters: [JSONValue] = acks.map { ack in
            .object([
                "adapter_id": .string(ack.adapterID), "state_version": .int(Int64(ack.stateVersion)),
                "acknowledged_at": time(ack.acknowledgedAt), "current": .bool(ack.stateVersion == tool.stateVersion),
            ])
        }
        let stale = acks.filter { $0.stateVersion != tool.stateVersion }.map(\.adapterID)
        return .object([
            "name": .string(tool.name), "tenant": .string(tenantSlug), "description": .string(tool.description),
            "risk": .string(tool.risk.rawValue), "capabilities": strings(tool.capabilities),
            "approval_level": .string(tool.approvalLevel.rawValue), "endpoint": text(tool.endpoint), "compensation": text(tool.compensation),
            "is_active": .bool(tool.isActive), "state_version": .int(Int64(tool.stateVersion)), "state_reason": text(tool.stateReason),
            "state_changed_at": time(tool.stateChangedAt), "state_changed_by": text(tool.stateChangedBy),
            "created_at": time(tool.createdAt), "updated_at": time(tool.updatedAt),
            "adapters": .array(adapters), "stale_adapters": strings(stale),
        ])
    }

    static func ack(_ ack: AdapterAck, tool: String) -> JSONValue {
        .object([
            "tool": .string(tool), "adapter_id": .string(ack.adapterID), "state_version": .int(Int64(ack.stateVersion)),
            "acknowledged_at": time(ack.acknowledgedAt),
        ])
    }

    static func event(_ event: TenantEvent, tenantSlug: String) -> JSONValue {
        .object([
            "id": .int(event.sequence), "tenant": .string(tenantSlug), "type": .string(event.type), "data": event.data,
            "created_at": time(event.createdAt),
        ])
    }

    static func decisionAnswer(_ record: DecisionRecord, approvalID: UUID? = nil) -> JSONValue {
        .object([
            "decision_id": id(record.id), "effect": .string(record.effect.rawValue), "reasons": strings(record.reasons),
            "bundle": text(record.bundle), "bundle_id": record.bundleID.map(id) ?? .null, "evaluated_ns": .int(record.evaluatedNanoseconds),
            "cohort": text(record.cohort?.rawValue),
            "bypass": .bool(record.reasons.first == DecisionReason.policyBypassed), "approval_id": approvalID.map(id) ?? .null,
        ])
    }

    static func decision(_ record: DecisionRecord, tenantSlug: String) -> JSONValue {
        .object([
            "id": id(record.id), "tenant": .string(tenantSlug), "agent_id": .string(record.agentID), "tool": .string(record.tool),
            "action": .string(record.action), "input": JSONValue.parse(record.input) ?? .string(record.input),
            "effect": .string(record.effect.rawValue), "reasons": strings(record.reasons), "bundle": text(record.bundle),
            "bundle_id": record.bundleID.map(id) ?? .null, "run_id": text(record.runID), "cost": record.cost.map(JSONValue.double) ?? .null,
            "evaluated_ns": .int(record.evaluatedNanoseconds),
            "created_at": time(record.createdAt), "trace_id": text(record.traceID), "cohort": text(record.cohort?.rawValue),
            "bypass": .bool(record.reasons.first == DecisionReason.policyBypassed),
            "labels": .object(record.labels.mapValues { .string($0.rawValue) }),
        ])
    }

    static func list(_ items: [JSONValue], next: String?) -> JSONValue {
        .object(["items": .array(items), "next_cursor": text(next)])
    }
}
