import Foundation
import RegoPeers
import Testing

@testable import Rego

/// Warden's engine against OPA itself (its C library, installed by `scripts/install-peers`): every
/// policy of the corpus, for every generated input, must give the same document, or both must fail.
/// Skipped, with a printed note, when the library is absent.
@Suite struct DifferentialTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// A small deterministic generator (SplitMix64), so a failure names a seed that reproduces it.
    struct Generator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func pick<T>(_ items: [T]) -> T { items[Int(next() % UInt64(items.count))] }
        mutating func subset<T>(_ items: [T]) -> [T] { items.filter { _ in next() % 2 == 0 } }
        mutating func number() -> String {
            switch next() % 6 {
            case 0: return "\(Int(next() % 1000))"
            case 1: return "\(Int(next() % 100000)).\(Int(next() % 100))"
            case 2: return "-\(Int(next() % 50)).5"
            case 3: return "0"
            case 4: return "1e\(Int(next() % 4))"
            default: return "0.\(Int(next() % 1000))"
            }
        }
    }

    static func input(seed: UInt64) -> String {
        var random = Generator(state: seed)
        func quoted(_ items: [String]) -> String { "[" + items.map { "\"\($0)\"" }.joined(separator: ",") + "]" }
        let agent = random.pick(["bot-1", "rogue-1", "support-bot", "ünïcode", ""])
        let roles = random.subset(["support", "finance", "admin", "unknown"])
        let tool = random.pick(["refund", "invoice", "transfer", "lookup", "1.2.3"])
        let risk = random.pick(["low", "medium", "high", "critical", "unknown"])
        let action = random.pick(["read", "write", "delete"])
        let tags = random.subset(["pii", "finance", "ops", "public", "p1", "very-long-tag"])
        let path = random.pick(["/api/v1/refunds", "api/tools/", "/", "", "{\\\"a\\\":1}", "/a b/c?d=e&f"])
        let email = random.pick(["ops@example.com", "bad-email", "a@b.org", "@", "x@y.z.com"])
        let url = random.pick([
            "https://example.com:8443/api/v1?q=1#top", "http://[::1]:80/a%2Fb", "mailto:ops@example.com", "http://exa%6dple.com/",
            "http://user:p%40ss@example.com/a%20b", "1a:b", "//cdn.example.com/x.js", "http://h:x/", "https://example.com/a%21b", "",
            "HTTPS://Example.COM/Path?", "http://a b/", "ftp://[fe80::1%25eth0]/", "http://h/#frag%zz",
        ])
        let yaml = random.pick([
            #"a: 1\nb: [x, 'y', \"z\"]"#, #"- yes\n- off\n- ~\n- 0x1F\n- 1.50"#, #"k: |\n  line one\n  line two\n"#, #"a: {"#,
            #"base: &b {r: low}\nt:\n  <<: *b\n  s: hi"#, #"a: 1\na: 2"#, "", #"\"quoted: text\""#, #"x:\n- - 1\n  - 2\n- {}"#,
        ])
        let zone = random.pick(["UTC", "America/New_York", "Asia/Kolkata", "Europe/Berlin", "Australia/Lord_Howe", "America/Sao_Paulo", ""])
        let layout = random.pick([
            "2006-01-02T15:04:05Z07:00", "RFC1123", "RFC1123Z", "Mon Jan _2 15:04:05 MST 2006", "02 Jan 06 15:04 -0700", "3:04PM",
            "2006-01-02 15:04:05.000", "Monday, 02-Jan-06 15:04:05.999999999 -07:00:00", "__2 002 Z07", "RFC3339Nano", "DateOnly",
        ])
        let nanoseconds = Int64(bitPattern: random.next() % 4_000_000_000_000_000_000) - 500_000_000_000_000_000
        let stamp = random.pick([
            "2017-06-02T19:00:00-07:00", "1970-01-01T00:00:00Z", "2024-02-29T23:59:59.123456789+05:30", "2023-02-29T00:00:00Z",
            "1677-09-21T00:12:43.145224192-00:00", "2262-04-11T23:47:16.854775808Z", "2020-13-01T00:00:00Z",
        ])
        let globPieces = ["a", "b", ".", "[ab]", "[a-c]", "a*", "b+", ".*", "[bc]*", "\\\\.", "c", "[a-b]+"]
        let globs = (0..<2).map { _ in
            "\"" + (0..<Int(random.next() % 5)).map { _ in random.pick(globPieces) }.joined() + "\""
        }
        return """
            {"agent": {"id": "\(agent)", "roles": \(quoted(roles))},
             "tool": {"name": "\(tool)", "risk": "\(risk)"},
             "action": "\(action)",
             "request": {"amount": \(random.number()), "tags": \(quoted(tags)), "path": "\(path)", "email": "\(email)",
                         "url": "\(url)", "yaml": "\(yaml)"},
             "cost": \(random.number()), "globs": [\(globs.joined(separator: ","))],
             "time": {"ns": \(nanoseconds), "zone": "\(zone)", "layout": "\(layout)", "stamp": "\(stamp)"}}
            """
    }

    enum Outcome: Equatable, CustomStringConvertible {
        case value(Value)
        case undefined
        /// An error code, with the message for the report (not compared).
        case error(String, message: String = "")

        static func == (lhs: Outcome, rhs: Outcome) -> Bool {
            switch (lhs, rhs) {
            case (.value(let a), .value(let b)): return a == b
            case (.undefined, .undefined): return true
            case (.error(let a, _), .error(let b, _)): return a == b
            default: return false
            }
        }

        var description: String {
            switch self {
            case .value(let value): return value.jsonText
            case .undefined: return "undefined"
            case .error(let code, let message): return "error \(code): \(message)"
            }
        }
    }

    /// OPA's answer for `x = data.diff.<name>`.
    static func opa(_ library: OPALibrary, _ name: String, _ input: String) throws -> Outcome {
        let envelope = try Value.parseJSON(library.evalQuery("x = data.diff.\(name)", inputJSON: input))
        guard case .object(let fields) = envelope else { return .error("unreadable", message: envelope.jsonText) }
        if case .object(let error)? = fields[.string("error")], case .string(let code)? = error[.string("code")] {
            var message = ""
            if case .string(let text)? = error[.string("message")] { message = text }
            // The library reports evaluation errors as `eval_error`, naming the kind in the message.
            for kind in ["eval_builtin_error", "eval_type_error", "eval_conflict_error"] where code == "eval_error" && message.contains(kind) {
                return .error(kind, message: message)
            }
            return .error(code, message: message)
        }
        guard case .array(let rows)? = fields[.string("result")], case .object(let row)? = rows.first,
            case .object(let bindings)? = row[.string("bindings")], let value = bindings[.string("x")]
        else { return .undefined }
        return .value(value)
    }

    /// Warden's answer, through JSON as OPA's is (sets become sorted arrays).
    static func warden(_ query: PreparedQuery, _ input: String) -> Outcome {
        do {
            // The library OPA is called through stops at builtin errors (strict), so Warden does too.
            guard let value = try query.evaluate(input: try Value.parseJSON(input), strictBuiltinErrors: true).first?["$value"] else {
                return .undefined
            }
            return .value(try Value.parseJSON(value.jsonText))
        } catch {
            return .error(error.code.name, message: error.message)
        }
    }

    /// Where two outcomes differ: per top-level key for two objects, else both in full.
    static func difference(_ expected: Outcome, _ actual: Outcome) -> String {
        guard case .value(.object(let left)) = expected, case .value(.object(let right)) = actual else {
            return "  OPA:    \(expected)\n  Warden: \(actual)"
        }
        var lines: [String] = []
        for key in Set(left.keys).union(right.keys).sorted() where left[key] != right[key] {
            lines.append("  \(key.jsonText): OPA \(left[key]?.jsonText ?? "undefined"), Warden \(right[key]?.jsonText ?? "undefined")")
        }
        return lines.joined(separator: "\n")
    }

    @Test func wardenAgreesWithOPA() async throws {
        try await onOwnThread { try Self.wardenAgreesWithOPAWork() }
    }

    static func wardenAgreesWithOPAWork() throws -> [String] {
        var problems: [String] = []
        let path = OPALibrary.defaultPath(packageRoot: Self.packageRoot)
        guard OPALibrary.load(path: path) else {
            print("note: OPA's C library not found at \(path) (run scripts/install-peers); differential test skipped")
            return []
        }
        let library = OPALibrary()
        for (file, source) in DifferentialCorpus.policies.sorted(by: { $0.key < $1.key }) {
            try library.addPolicy(path: file, source: source)
        }
        try library.addData(json: DifferentialCorpus.data)
        let policy = try Policy(modules: DifferentialCorpus.policies, data: try Value.parseJSON(DifferentialCorpus.data))

        let inputsPerPolicy = Int(ProcessInfo.processInfo.environment["WARDEN_DIFFERENTIAL_INPUTS"] ?? "") ?? 150
        var compared = 0
        var mismatches: [String] = []
        var differing: [String: Int] = [:]
        for file in DifferentialCorpus.policies.keys.sorted() {
            let name = String(file.dropLast(".rego".count))
            let query = try policy.prepare("data.diff.\(name)")
            for seed in 0..<UInt64(inputsPerPolicy) {
                let input = Self.input(seed: seed)
                let expected = try Self.opa(library, name, input)
                let actual = Self.warden(query, input)
                compared += 1
                if expected != actual { differing[name, default: 0] += 1 }
                if expected != actual, differing[name]! <= 3 {
                    mismatches.append("\(name) seed \(seed):\n  input: \(input)\n" + Self.difference(expected, actual))
                }
            }
        }
        let total = differing.values.reduce(0, +)
        print("differential: \(compared) evaluations compared with OPA v1.20.2, \(total) differ \(differing.sorted { $0.key < $1.key })")
        for mismatch in mismatches { print(mismatch) }
        if total != 0 { problems.append("Warden and OPA differ on \(total) evaluations; the cases are printed above") }
        if compared != DifferentialCorpus.policies.count * inputsPerPolicy { problems.append("compared \(compared) evaluations") }
        return problems
    }
}
