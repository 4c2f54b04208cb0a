public import Foundation

/// A native rule, for teams that do not write Rego: who (agent glob), what (tool glob, action), when
/// (conditions on input paths), and the answer. The highest priority matching rule wins; among equal
/// priorities, the first in the list. Rules compile to a Rego module, so they run on the same engine
/// as Rego and can be combined with it in one bundle.
public struct NativeRule: Sendable, Equatable {
    public struct Condition: Sendable, Equatable {
        public var path: [String]
        public var op: Operator
        public var value: JSONValue?

        public init(path: [String], op: Operator, value: JSONValue?) {
            self.path = path
            self.op = op
            self.value = value
        }
    }

    public enum Operator: String, Sendable, CaseIterable {
        case eq, ne, `in`, gt, gte, lt, lte, matches, exists
    }

    public var id: String
    public var agent: String
    public var tool: String
    public var action: String
    public var conditions: [Condition]
    public var effect: Effect
    public var priority: Int
    public var reason: String?

    public init(
        id: String, agent: String = "*", tool: String = "*", action: String = "*", conditions: [Condition] = [], effect: Effect,
        priority: Int = 0, reason: String? = nil
    ) {
        self.id = id
        self.agent = agent
        self.tool = tool
        self.action = action
        self.conditions = conditions
        self.effect = effect
        self.priority = priority
        self.reason = reason
    }
}

/// Reading, compiling and checking native rule lists.
public enum NativeRules {
    /// The package the rules compile to; their decision is `data.warden.rules.decision`.
    public static let package = "warden.rules"
    public static let entrypoint = "data.warden.rules.decision"
    public static let moduleName = "rules.rego"
    public static let maximumRules = 2_000

    /// Reads rules from JSON (`[{id, agent?, tool?, action?, conditions?, effect, priority?, reason?}]`).
    /// A mistake names the rule (`rules[3] (id "refund-limit"): …`) as an `invalid_policy` error.
    public static func parse(_ value: JSONValue) throws(WardenError) -> [NativeRule] {
        guard case .array(let items) = value else { throw invalid(nil, nil, "rules must be an array of rule objects") }
        guard items.count <= maximumRules else { throw invalid(nil, nil, "a bundle holds at most \(maximumRules) rules") }
        var rules: [NativeRule] = []
        for (index, item) in items.enumerated() {
            guard case .object(let fields) = item else { throw invalid(index, nil, "a rule must be an object") }
            let known: Set<String> = ["id", "agent", "tool", "action", "conditions", "effect", "priority", "reason"]
            if let unknown = fields.keys.sorted().first(where: { !known.contains($0) }) {
                throw invalid(index, nil, "unknown field '\(unknown)'; rule fields: \(known.sorted().joined(separator: ", "))")
            }
            guard case .string(let id)? = fields["id"], !id.isEmpty, id.utf8.count <= 100 else {
                throw invalid(index, nil, "id must be a string of 1 to 100 bytes")
            }
            func text(_ name: String, default fallback: String) throws(WardenError) -> String {
                switch fields[name] {
                case nil, .null?: return fallback
                case .string(let value)? where !value.isEmpty && value.utf8.count <= 200: return value
                default: throw invalid(index, id, "\(name) must be a non-empty string of at most 200 bytes")
                }
            }
            guard case .string(let effectText)? = fields["effect"], let effect = Effect(rawValue: effectText) else {
                throw invalid(index, id, "effect must be allow, deny or require_approval")
            }
            var priority = 0
            switch fields["priority"] {
            case nil, .null?: break
            case .int(let value)? where abs(value) <= 1_000_000: priority = Int(value)
            default: throw invalid(index, id, "priority must be a whole number between -1000000 and 1000000")
            }
            var reason: String?
            switch fields["reason"] {
            case nil, .null?: break
            case .string(let value)? where value.utf8.count <= 500: reason = value
            default: throw invalid(index, id, "reason must be a string of at most 500 bytes")
            }
            var conditions: [NativeRule.Condition] = []
            switch fields["conditions"] {
            case nil, .null?: break
            case .array(let list)?:
                for (position, entry) in list.enumerated() {
                    conditions.append(try condition(entry, rule: index, id: id, position: position))
                }
            default: throw invalid(index, id, "conditions must be an array")
            }
            rules.append(
                NativeRule(
                    id: id, agent: try text("agent", default: "*"), tool: try text("tool", default: "*"), action: try text("action", default: "*"),
                    conditions: conditions, effect: effect, priority: priority, reason: reason
                ))
        }
        return rules
    }

    static func condition(_ entry: JSONValue, rule index: Int, id: String, position: Int) throws(WardenError) -> NativeRule.Condition {
        let label = "conditions[\(position)]"
        guard case .object(let fields) = entry else { throw invalid(index, id, "\(label) must be an object {path, op, value}") }
        guard case .string(let pathText)? = fields["path"] else {
            throw invalid(index, id, "\(label).path must be a string such as input.request.amount")
        }
        let segments = pathText.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard segments.count >= 2, segments[0] == "input", segments.dropFirst().allSatisfy({ !$0.isEmpty }) else {
            throw invalid(index, id, "\(label).path must start with input. and name a field, such as input.request.amount (got '\(pathText)')")
        }
        guard case .string(let opText)? = fields["op"], let op = NativeRule.Operator(rawValue: opText) else {
            throw invalid(index, id, "\(label).op must be one of \(NativeRule.Operator.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let value = fields["value"]
        switch op {
        case .exists:
            guard value == nil || value == .bool(true) || value == .bool(false) else {
                throw invalid(index, id, "\(label): exists takes true or false")
            }
        case .in:
            guard case .array? = value else { throw invalid(index, id, "\(label): in takes an array value") }
        case .gt, .gte, .lt, .lte:
            switch value {
            case .int?, .double?, .string?: break
            default: throw invalid(index, id, "\(label): \(op.rawValue) takes a number or a string")
            }
        case .matches:
            guard case .string(let pattern)? = value else { throw invalid(index, id, "\(label): matches takes a regular expression string") }
            guard (try? NSRegularExpression(pattern: pattern)) != nil else {
                throw invalid(index, id, "\(label): '\(pattern)' is not a valid regular expression")
            }
        case .eq, .ne:
            guard value != nil else { throw invalid(index, id, "\(label): \(op.rawValue) needs a value") }
        }
        return NativeRule.Condition(path: Array(segments.dropFirst()), op: op, value: value)
    }

    static func invalid(_ index: Int?, _ id: String?, _ message: String) -> WardenError {
        var prefix = "rules"
        if let index { prefix += "[\(index)]" }
        if let id { prefix += " (id \"\(id)\")" }
        var details: [String: JSONValue] = ["file": .string("rules")]
        if let index { details["rule"] = .int(Int64(index)) }
        if let id { details["id"] = .string(id) }
        return WardenError(.invalidPolicy, "\(prefix): \(message)", details: details)
    }

    // MARK: Compiling to Rego

    /// The Rego module the rules become: `matched` is the set of matching rule ids, `decision` the
    /// answer of the best one (highest priority, then list order).
    public static func module(_ rules: [NativeRule]) -> String {
        var lines = [
            "package \(package)", "", "# Generated by Warden from the bundle's native rules; do not edit.", "",
        ]
        var table: [String] = []
        for (order, rule) in rules.enumerated() {
            let id = quote(rule.id)
            var body: [String] = []
            if rule.agent != "*" { body.append("glob.match(\(quote(rule.agent)), [\"/\"], input.agent.id)") }
            if rule.tool != "*" { body.append("glob.match(\(quote(rule.tool)), [\"/\"], input.tool.name)") }
            if rule.action != "*" { body.append("input.action == \(quote(rule.action))") }
            for condition in rule.conditions { body.append(expression(condition)) }
            if body.isEmpty { body.append("true") }
            lines.append("matched contains \(id) if {")
            for expression in body { lines.append("\t" + expression) }
            lines.append("}")
            lines.append("")
            let reason = quote(rule.reason ?? "rule:\(rule.id)")
            table.append(
                "\t\(id): {\"priority\": \(rule.priority), \"order\": \(order), \"effect\": \(quote(rule.effect.rawValue)), \"reason\": \(reason)},")
        }
        lines.append("rules := {")
        lines += table
        lines.append("}")
        lines.append("")
        lines.append("ranked := sort([[0 - rules[id].priority, rules[id].order, id] | some id in matched])")
        lines.append("")
        lines.append("decision := {\"effect\": rules[id].effect, \"reasons\": [rules[id].reason], \"rule\": id} if {")
        lines.append("\tcount(ranked) > 0")
        lines.append("\tid := ranked[0][2]")
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }

    static func reference(_ path: [String]) -> String {
        "input"
            + path.map { segment in
                if let index = Int(segment), index >= 0, String(index) == segment { return "[\(index)]" }
                return "[\(quote(segment))]"
            }.joined()
    }

    static func expression(_ condition: NativeRule.Condition) -> String {
        let ref = reference(condition.path)
        let value = condition.value.map(literal) ?? "null"
        switch condition.op {
        case .eq: return "\(ref) == \(value)"
        case .ne: return "\(ref) != \(value)"
        case .in: return "\(ref) in \(value)"
        case .gt: return "\(ref) > \(value)"
        case .gte: return "\(ref) >= \(value)"
        case .lt: return "\(ref) < \(value)"
        case .lte: return "\(ref) <= \(value)"
        case .matches: return "regex.match(\(value), \(ref))"
        case .exists: return condition.value == .bool(false) ? "count([1 | _ = \(ref)]) == 0" : "_ = \(ref)"
        }
    }

    /// A JSON value as a Rego term (JSON is valid Rego).
    static func literal(_ value: JSONValue) -> String { value.canonicalText }

    static func quote(_ text: String) -> String { JSONValue.string(text).canonicalText }

    // MARK: Lint

    public struct Finding: Sendable, Equatable {
        public enum Kind: String, Sendable {
            case duplicateID = "duplicate_id"
            case unreachable
            case conflict
        }

        public var kind: Kind
        public var rule: String
        public var other: String?
        public var message: String
    }

    /// Duplicate ids; rules no input can reach because an earlier or higher-priority rule matches
    /// everything they match; equal-priority rules with different effects that can match the same call.
    public static func lint(_ rules: [NativeRule]) -> [Finding] {
        var findings: [Finding] = []
        var seen: [String: Int] = [:]
        for (index, rule) in rules.enumerated() {
            if let first = seen[rule.id] {
                findings.append(
                    Finding(kind: .duplicateID, rule: rule.id, other: rules[first].id, message: "rules[\(index)] repeats the id of rules[\(first)]"))
            } else {
                seen[rule.id] = index
            }
        }
        for (index, rule) in rules.enumerated() {
            // Shadowed: a rule that wins over this one (higher priority, or equal and earlier) and matches everything it matches.
            if let winner = rules.enumerated().first(where: { other in
                other.offset != index && (other.element.priority > rule.priority || (other.element.priority == rule.priority && other.offset < index))
                    && covers(other.element, rule)
            }) {
                findings.append(
                    Finding(
                        kind: .unreachable, rule: rule.id, other: winner.element.id,
                        message:
                            "rules[\(index)] (\(rule.id)) can never decide: rules[\(winner.offset)] (\(winner.element.id)) wins for every call it matches"
                    ))
            }
        }
        for (index, rule) in rules.enumerated() {
            for later in rules.indices where later > index {
                let other = rules[later]
                guard other.priority == rule.priority, other.effect != rule.effect, mayOverlap(rule, other) else { continue }
                findings.append(
                    Finding(
                        kind: .conflict, rule: rule.id, other: other.id,
                        message:
                            "rules[\(index)] (\(rule.id)) and rules[\(later)] (\(other.id)) have priority \(rule.priority) and different effects and can match the same call; list order decides"
                    ))
            }
        }
        return findings
    }

    /// Whether every call `narrow` matches, `wide` matches too (conservatively: only when provable).
    static func covers(_ wide: NativeRule, _ narrow: NativeRule) -> Bool {
        func patternCovers(_ a: String, _ b: String) -> Bool { a == "*" || a == b }
        return patternCovers(wide.agent, narrow.agent) && patternCovers(wide.tool, narrow.tool) && patternCovers(wide.action, narrow.action)
            && wide.conditions.allSatisfy { narrow.conditions.contains($0) }
    }

    /// Whether some call could match both (conservatively: yes unless they name different exact values).
    static func mayOverlap(_ a: NativeRule, _ b: NativeRule) -> Bool {
        func patternsOverlap(_ x: String, _ y: String) -> Bool {
            x == y || x.contains("*") || y.contains("*") || x.contains("?") || y.contains("?") || x.contains("[") || y.contains("[")
        }
        return patternsOverlap(a.agent, b.agent) && patternsOverlap(a.tool, b.tool) && (a.action == b.action || a.action == "*" || b.action == "*")
    }
}
