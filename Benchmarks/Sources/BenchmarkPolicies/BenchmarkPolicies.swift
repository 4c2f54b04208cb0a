/// The three policies of the engine benchmarks, shared by the ordo-one suite (RegoEval) and the
/// engine comparison (CompareEngines, with OPA and regorus): the same text, data and input for all.
public struct BenchmarkPolicy: Sendable {
    public var name: String
    public var package: String
    public var source: String
    public var data: String
    public var input: String
    /// The document evaluated: `data.<package>.allow`.
    public var query: String { "data.\(package).allow" }
}

public enum BenchmarkPolicies {
    public static let all: [BenchmarkPolicy] = [agent, rbac, catalog]

    /// Five rules: the agent policy Warden's decision path evaluates.
    public static let agent = BenchmarkPolicy(
        name: "agent (5 rules)", package: "sentinel.policy",
        source: """
            package sentinel.policy

            import rego.v1

            default allow := false

            allow if {
                not deny
                input.tool.risk != "critical"
                some role in input.agent.roles
                role in data.allowed_roles[input.tool.name]
            }

            deny if input.agent.suspended

            deny if input.cost > data.max_cost

            reasons contains "critical tool" if input.tool.risk == "critical"

            reasons contains "over budget" if input.cost > data.max_cost
            """,
        data: #"{"allowed_roles": {"refund": ["support", "billing"], "search": ["support"]}, "max_cost": 10}"#,
        input: #"{"agent": {"id": "bot", "roles": ["support"], "suspended": false}, "tool": {"name": "refund", "risk": "high"}, "cost": 2.5}"#
    )

    /// A hundred rules: sixty role grants and forty attribute rules.
    public static let rbac: BenchmarkPolicy = {
        var source = "package rbac\n\nimport rego.v1\n\ndefault allow := false\n"
        for index in 0..<60 {
            source += """

                allow if {
                    input.role == "role_\(index)"
                    input.action in {"read", "list", "\(index % 2 == 0 ? "write" : "approve")"}
                    startswith(input.resource.path, "/team_\(index % 12)/")
                }

                """
        }
        for index in 0..<40 {
            source += """

                allow if {
                    input.user.department == "dept_\(index)"
                    input.resource.owner == input.user.id
                    input.resource.classification != "secret"
                }

                """
        }
        return BenchmarkPolicy(
            name: "rbac (100 rules)", package: "rbac", source: source, data: "{}",
            input:
                #"{"role": "role_42", "action": "write", "user": {"id": "u1", "department": "dept_7"}, "resource": {"path": "/team_6/doc", "owner": "u2", "classification": "internal"}}"#
        )
    }()

    /// Two thousand rules: per-tool grants that only rule indexing makes cheap.
    public static let catalog: BenchmarkPolicy = {
        var source = "package catalog\n\nimport rego.v1\n\ndefault allow := false\n"
        for index in 0..<2_000 {
            source += """

                allow if {
                    input.tool == "tool_\(index)"
                    input.action == "act_\(index % 5)"
                    input.agent.tier >= \(index % 3)
                }

                """
        }
        return BenchmarkPolicy(
            name: "catalog (2,000 rules)", package: "catalog", source: source, data: "{}",
            input: #"{"tool": "tool_1234", "action": "act_4", "agent": {"id": "bot", "tier": 2}}"#
        )
    }()
}
