import Benchmark
import BenchmarkPolicies
import Rego

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .throughput, .mallocCountTotal], scalingFactor: .kilo, maxDuration: .seconds(5))

    for policy in BenchmarkPolicies.all {
        Benchmark("\(policy.name): \(policy.query)") { benchmark in
            let compiled = try Policy(modules: ["policy.rego": policy.source], data: try Value.parseJSON(policy.data))
            let query = try compiled.prepare(policy.query)
            let input = try Value.parseJSON(policy.input)
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                blackHole(try query.evaluate(input: input))
            }
        }
    }

    Benchmark("agent policy: parse and compile") { benchmark in
        let policy = BenchmarkPolicies.agent
        let data = try Value.parseJSON(policy.data)
        for _ in benchmark.scaledIterations {
            blackHole(try Policy(modules: ["policy.rego": policy.source], data: data))
        }
    }
}
