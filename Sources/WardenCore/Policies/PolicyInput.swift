public import Foundation
public import Rego

/// The input document a bundle's policies see (documented in docs/policy.md).
public enum PolicyInput {
    public static func document(
        _ request: DecisionRequest, agent: Agent, tool: Tool, tenant: Tenant, now: Date
    ) -> Value {
        let nanoseconds = Int((now.timeIntervalSince1970 * 1_000_000_000).rounded())
        var document: [Value: Value] = [
            .string("tenant"): .object([.string("id"): .string(tenant.id.uuidString.lowercased()), .string("slug"): .string(tenant.slug)]),
            .string("agent"): .object([.string("id"): .string(agent.agentID), .string("roles"): .array(agent.roles.map(Value.string))]),
            .string("tool"): .object([
                .string("name"): .string(tool.name), .string("risk"): .string(tool.risk.rawValue),
                .string("capabilities"): .array(tool.capabilities.map(Value.string)),
                .string("approval_level"): .string(tool.approvalLevel.rawValue),
            ]),
            .string("action"): .string(request.action),
            .string("request"): PolicyValue.rego(request.input),
            .string("time"): .object([.string("now_ns"): .int(nanoseconds), .string("rfc3339"): .string(Timestamp.format(now))]),
        ]
        if let runID = request.runID { document[.string("run")] = .object([.string("id"): .string(runID)]) }
        if let cost = request.cost { document[.string("cost")] = PolicyValue.rego(.double(cost)) }
        return .object(document)
    }
}
