import Benchmark
import Rego

/// The 5-rule agent policy: the shape Warden's decision path will evaluate.
let agentPolicy = """
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
    """

let agentData = try! Value.parseJSON(#"{"allowed_roles": {"refund": ["support", "billing"], "search": ["support"]}, "max_cost": 10}"#)
let agentInput = try! Value.parseJSON(
    #"{"agent": {"id": "bot", "roles": ["support"], "suspended": false}, "tool": {"name": "refund", "risk": "high"}, "cost": 2.5}"#
)

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .throughput, .mallocCountTotal], scalingFactor: .kilo, maxDuration: .seconds(5))

    Benchmark("agent policy: data.sentinel.policy.allow") { benchmark in
        let policy = try Policy(modules: ["policy.rego": agentPolicy], data: agentData)
        let query = try policy.prepare("data.sentinel.policy.allow")
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try query.evaluate(input: agentInput))
        }
    }

    Benchmark("agent policy: parse and compile") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try Policy(modules: ["policy.rego": agentPolicy], data: agentData))
        }
    }
}
