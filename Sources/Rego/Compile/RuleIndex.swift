/// An index over the rules of one path, so a query does not try thousands of rule bodies that
/// cannot match. Built at compile time for groups of at least `RuleIndex.threshold` rules: the
/// input path most rules compare with a constant (`input.tool == "refund"`) becomes the key;
/// evaluation reads that path once and tries only the rules filed under its value, plus the rules
/// that do not test it, in their original order.
struct RuleIndex: Sendable {
    static let threshold = 16

    /// Steps below `input`.
    let path: [String]
    /// Entry positions by the constant their rule compares the path with.
    let buckets: [Value: [Int]]
    /// Entries that do not test the path (always tried).
    let unindexed: [Int]

    init?(_ entries: [RuleTree.Entry]) {
        let candidates = entries.filter { !$0.rule.isDefault }
        guard candidates.count >= RuleIndex.threshold, entries[0].rule.kind != .function else { return nil }
        // The input path that the most rules compare with a constant.
        var counts: [[String]: Int] = [:]
        var tests: [[([String], Value)]] = []
        for entry in entries {
            let found = entry.rule.isDefault || !entry.rule.elses.isEmpty ? [] : RuleIndex.constantTests(entry.rule.body)
            tests.append(found)
            for path in Set(found.map(\.0)) { counts[path, default: 0] += 1 }
        }
        guard let best = counts.max(by: { $0.value < $1.value || ($0.value == $1.value && $0.key.lexicographicallyPrecedes($1.key)) }),
            best.value * 2 >= candidates.count
        else { return nil }
        var buckets: [Value: [Int]] = [:]
        var unindexed: [Int] = []
        for (position, entry) in entries.enumerated() where !entry.rule.isDefault {
            let constants = tests[position].filter { $0.0 == best.key }.map(\.1)
            // A rule testing the path against two different constants can never match; one test files it.
            if let first = constants.first {
                if constants.allSatisfy({ $0 == first }) { buckets[first, default: []].append(position) }
            } else {
                unindexed.append(position)
            }
        }
        self.path = best.key
        self.buckets = buckets
        self.unindexed = unindexed
    }

    /// Positions of the entries worth trying when the indexed path has `value` (`nil`: undefined), in order.
    func candidates(for value: Value?) -> [Int] {
        guard let value, let filed = buckets[value] else { return unindexed }
        if unindexed.isEmpty { return filed }
        return (filed + unindexed).sorted()
    }

    /// `input.a.b == constant` / `constant == input.a.b` / `=` literals of a body: positive, unmodified.
    static func constantTests(_ body: Body) -> [([String], Value)] {
        var found: [([String], Value)] = []
        for literal in body where !literal.negated && literal.with.isEmpty {
            guard case .expression(let term) = literal.kind, case .call(let op, let arguments) = term.kind, arguments.count == 2,
                let name = Term.name(ofOperator: op), name == "equal" || name == "eq"
            else { continue }
            for (refSide, constantSide) in [(arguments[0], arguments[1]), (arguments[1], arguments[0])] {
                if let path = inputPath(refSide), let constant = scalar(constantSide) {
                    found.append((path, constant))
                    break
                }
            }
        }
        return found
    }

    static func inputPath(_ term: Term) -> [String]? {
        guard case .ref(let steps) = term.kind, case .variable("input") = steps.first?.kind, steps.count > 1 else { return nil }
        var path: [String] = []
        for step in steps.dropFirst() {
            guard case .string(let name) = step.kind else { return nil }
            path.append(name)
        }
        return path
    }

    static func scalar(_ term: Term) -> Value? {
        switch term.kind {
        case .string(let text): return .string(text)
        case .boolean(let flag): return .bool(flag)
        case .null: return .null
        case .number(let text): return Number(text).map(Value.number)
        default: return nil
        }
    }
}
