public import Foundation
public import Rego

/// The input document a bundle's policies see (documented in docs/policy.md).
public enum PolicyInput {
    public static func document(
        _ request: DecisionRequest, agent: Agent, tool: Tool, tenant: Tenant, now: Date
    ) -> Value {
        document(request, agent: value(of: agent), tool: value(of: tool), tenant: value(of: tenant), now: now)
    }

    /// The document from parts the snapshot keeps prebuilt (tenant, agent and tool change rarely;
    /// building them per decision was a third of a policy decision's time).
    static func document(_ request: DecisionRequest, agent: Value, tool: Value, tenant: Value, now: Date) -> Value {
        let nanoseconds = Int((now.timeIntervalSince1970 * 1_000_000_000).rounded())
        var document: [Value: Value] = [
            .string("tenant"): tenant,
            .string("agent"): agent,
            .string("tool"): tool,
            .string("action"): .string(request.action),
            .string("request"): PolicyValue.rego(request.input),
            .string("time"): .object([.string("now_ns"): .int(nanoseconds), .string("rfc3339"): .string(Timestamp.format(now))]),
        ]
        if let runID = request.runID { document[.string("run")] = .object([.string("id"): .string(runID)]) }
        if let cost = request.cost { document[.string("cost")] = PolicyValue.rego(.double(cost)) }
        return .object(document)
    }

    public static func value(of tenant: Tenant) -> Value {
        .object([.string("id"): .string(tenant.id.uuidString.lowercased()), .string("slug"): .string(tenant.slug)])
    }

    public static func value(of agent: Agent) -> Value {
        .object([.string("id"): .string(agent.agentID), .string("roles"): .array(agent.roles.map(Value.string))])
    }

    public static func value(of tool: Tool) -> Value {
        .object([
            .string("name"): .string(tool.name), .string("risk"): .string(tool.risk.rawValue),
            .string("capabilities"): .array(tool.capabilities.map(Value.string)),
            .string("approval_level"): .string(tool.approvalLevel.rawValue),
        ])
    }
}
