// Warden's Rego engine against OPA (its C library, libopabridge, called from Swift) and regorus
// (Microsoft's Rust engine, timed from Python by scripts/compare-engines), on the same policies,
// data and inputs, in one run. Run it through scripts/compare-engines.
//
//   CompareEngines export DIR          writes each policy, its data, input and query into DIR
//   CompareEngines run DIR [SECONDS]   times Warden and OPA, reads DIR/regorus.json, prints the table
import BenchmarkPolicies
import Foundation
import Rego
import RegoPeers

#if canImport(Glibc)
    import Glibc
#endif

func nanoseconds() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
}

struct Figures {
    var p50: Double
    var p99: Double
    var mean: Double
    var count: Int

    var text: String { String(format: "p50 %8.2f µs  p99 %8.2f µs  mean %8.2f µs  (%d runs)", p50, p99, mean, count) }
}

/// Runs `body` for `seconds` after a short warm-up; per-call times in microseconds.
func measure(seconds: Double, _ body: () throws -> Void) rethrows -> Figures {
    let warmUp = nanoseconds() + 300_000_000
    while nanoseconds() < warmUp { try body() }
    var samples: [Double] = []
    samples.reserveCapacity(1 << 20)
    let end = nanoseconds() + UInt64(seconds * 1e9)
    while true {
        let start = nanoseconds()
        try body()
        let stop = nanoseconds()
        samples.append(Double(stop - start) / 1000)
        if stop >= end { break }
    }
    samples.sort()
    return Figures(
        p50: samples[samples.count / 2], p99: samples[min(samples.count - 1, samples.count * 99 / 100)],
        mean: samples.reduce(0, +) / Double(samples.count), count: samples.count
    )
}

func fileName(_ policy: BenchmarkPolicy) -> String { policy.package.replacingOccurrences(of: ".", with: "_") }

let arguments = CommandLine.arguments
guard arguments.count >= 3 else {
    print("usage: CompareEngines export DIR | run DIR [SECONDS]")
    exit(2)
}
let folder = URL(fileURLWithPath: arguments[2])

if arguments[1] == "export" {
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    var manifest: [[String: String]] = []
    for policy in BenchmarkPolicies.all {
        let base = fileName(policy)
        try policy.source.write(to: folder.appendingPathComponent("\(base).rego"), atomically: true, encoding: .utf8)
        try policy.data.write(to: folder.appendingPathComponent("\(base).data.json"), atomically: true, encoding: .utf8)
        try policy.input.write(to: folder.appendingPathComponent("\(base).input.json"), atomically: true, encoding: .utf8)
        manifest.append(["name": policy.name, "file": base, "query": policy.query])
    }
    let text = try JSONSerialization.data(withJSONObject: manifest, options: [.prettyPrinted, .sortedKeys])
    try text.write(to: folder.appendingPathComponent("manifest.json"))
    print("exported \(BenchmarkPolicies.all.count) policies to \(folder.path)")
    exit(0)
}

let seconds = arguments.count > 3 ? Double(arguments[3]) ?? 2 : 2
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()
let opaPath = OPALibrary.defaultPath(packageRoot: packageRoot)
let haveOPA = OPALibrary.load(path: opaPath)
if !haveOPA { print("note: OPA's C library not found at \(opaPath) (run scripts/install-peers): OPA column left empty") }
var regorus: [String: [String: Double]] = [:]
if let data = try? Data(contentsOf: folder.appendingPathComponent("regorus.json")),
    let parsed = try? JSONSerialization.jsonObject(with: data) as? [String: [String: Double]]
{
    regorus = parsed
} else {
    print("note: no regorus figures in \(folder.path)/regorus.json: regorus column left empty")
}

struct Row {
    var name: String
    var warden: Figures
    var wardenJSON: Figures
    var opa: Figures?
    var regorusP50: Double?
}
var rows: [Row] = []

let only = ProcessInfo.processInfo.environment["WARDEN_COMPARE_ONLY"]
for policy in BenchmarkPolicies.all where only.map({ policy.name.contains($0) }) ?? true {
    print("\n\(policy.name): \(policy.query)")
    let compiled = try Policy(modules: ["\(fileName(policy)).rego": policy.source], data: try Value.parseJSON(policy.data))
    let query = try compiled.prepare(policy.query)
    let input = try Value.parseJSON(policy.input)
    let answer = try query.evaluate(input: input).first?["$value"]
    guard answer == .bool(true) else {
        fatalError("Warden answered \(String(describing: answer)) for \(policy.name); the benchmark input must be allowed")
    }
    let warden = try measure(seconds: seconds) { _ = try query.evaluate(input: input) }
    print("  Warden (prepared, input as a value)   \(warden.text)")
    let wardenJSON = try measure(seconds: seconds) {
        let rows = try query.evaluate(input: try Value.parseJSON(policy.input))
        _ = rows.first?["$value"]?.jsonText
    }
    print("  Warden (JSON input and output)        \(wardenJSON.text)")
    var opa: Figures?
    if haveOPA {
        let library = OPALibrary()
        try library.addPolicy(path: "\(fileName(policy)).rego", source: policy.source)
        try library.addData(json: policy.data)
        let probe = library.evalQuery("x = \(policy.query)", inputJSON: policy.input)
        guard probe.contains(#""x":true"#) else { fatalError("OPA answered \(probe.prefix(300)) for \(policy.name)") }
        let figures = measure(seconds: seconds) { _ = library.evalQuery("x = \(policy.query)", inputJSON: policy.input) }
        print("  OPA v1.20.2 (libopabridge, JSON)      \(figures.text)")
        opa = figures
    }
    let regorusP50 = regorus[fileName(policy)]?["p50_us"]
    if let regorusP50 { print(String(format: "  regorus 0.13 (from Python, JSON)      p50 %8.2f µs", regorusP50)) }
    rows.append(Row(name: policy.name, warden: warden, wardenJSON: wardenJSON, opa: opa, regorusP50: regorusP50))
}

print("\nµs per evaluation (p50); ratios are the peer's time over Warden's JSON-in/JSON-out time")
print("| policy | Warden | Warden, JSON in/out | OPA | regorus | OPA ÷ Warden | regorus ÷ Warden |")
print("|---|---|---|---|---|---|---|")
for row in rows {
    func cell(_ value: Double?) -> String { value.map { String(format: "%.2f", $0) } ?? "–" }
    func ratio(_ value: Double?) -> String { value.map { String(format: "%.1f×", $0 / row.wardenJSON.p50) } ?? "–" }
    print(
        "| \(row.name) | \(cell(row.warden.p50)) | \(cell(row.wardenJSON.p50)) | \(cell(row.opa?.p50)) | \(cell(row.regorusP50)) | \(ratio(row.opa?.p50)) | \(ratio(row.regorusP50)) |"
    )
}
