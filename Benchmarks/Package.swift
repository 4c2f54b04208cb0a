// swift-tools-version:6.1
// Benchmarks live in their own package so that CI's test build does not compile ordo-one/benchmark.
// Run from this folder: swift package --allow-writing-to-package-directory benchmark
import PackageDescription

let package = Package(
    name: "WardenBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Warden", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .target(name: "BenchmarkPolicies", path: "Sources/BenchmarkPolicies"),
        .executableTarget(
            name: "CompareEngines",
            dependencies: [
                "BenchmarkPolicies",
                .product(name: "Rego", package: "Warden"),
                .product(name: "RegoPeers", package: "Warden"),
            ],
            path: "Benchmarks/CompareEngines"
        ),
        .executableTarget(
            name: "DecisionPath",
            dependencies: [
                "BenchmarkPolicies",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "WardenCore", package: "Warden"),
                .product(name: "WardenStore", package: "Warden"),
            ],
            path: "Benchmarks/DecisionPath",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "RegoEval",
            dependencies: [
                "BenchmarkPolicies",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "Rego", package: "Warden"),
            ],
            path: "Benchmarks/RegoEval",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
