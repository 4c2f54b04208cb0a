import Synchronization

/// Compiled modules and base data, ready to answer queries. Immutable and shareable across threads.
///
/// ```swift
/// let policy = try Policy(modules: ["policy.rego": source], data: data)
/// let query = try policy.prepare("data.sentinel.policy.allow")
/// let rows = try query.evaluate(input: input)
/// ```
public final class Policy: Sendable {
    let modules: [Module]
    let data: Value
    let tree: RuleTree
    /// Builtins by name, without those a function rule could shadow (a rule whose first name is the
    /// builtin's first name): a call of a name found here is that builtin, with one lookup.
    let unshadowedBuiltins: [String: Builtin]
    let limits: Limits

    public convenience init(modules: [String: String], data: Value = .object([:]), limits: Limits = .default) throws(RegoError) {
        var parsed: [Module] = []
        for (file, source) in modules.sorted(by: { $0.key < $1.key }) {
            parsed.append(try Parser.parseModule(source, file: file, limits: limits))
        }
        do {
            try self.init(parsed: parsed, data: data, limits: limits)
        } catch {
            // Compile errors name the offending line, as parse errors do.
            guard error.text == nil, let location = error.location, let source = modules[location.file] else { throw error }
            throw RegoError(error.code, error.message, location: location, text: Lexer.lineText(Array(source.utf8), line: location.line))
        }
    }

    public init(parsed: [Module], data: Value = .object([:]), limits: Limits = .default) throws(RegoError) {
        guard case .object = data else { throw RegoError(.compileError, "data must be a JSON object") }
        self.modules = parsed
        self.data = data
        self.limits = limits
        self.tree = try RuleTree(modules: parsed)
        try Checker(tree: tree).checkModules()
        let ruleRoots = Set(tree.ruleNames.values.flatMap { $0 })
        self.unshadowedBuiltins = Builtins.table.filter { name, _ in
            !ruleRoots.contains(String(name.prefix(while: { $0 != "." })))
        }
    }

    /// The test rules (`test_…`, as `opa test` finds them): full path and file, in file then source order.
    public var tests: [(path: String, file: String)] {
        var found: [(path: String, file: String)] = []
        var seen: Set<String> = []
        for module in modules.sorted(by: { $0.file < $1.file }) {
            for rule in module.rules where rule.kind == .complete && rule.arguments.isEmpty && rule.path.count == 1 {
                guard case .variable(let name) = rule.path[0].kind, name.hasPrefix("test_") else { continue }
                let path = "data." + (module.package + [name]).joined(separator: ".")
                if seen.insert(path).inserted { found.append((path, module.file)) }
            }
        }
        return found
    }

    /// Parses a query once for repeated evaluation.
    public func prepare(_ query: String) throws(RegoError) -> PreparedQuery {
        let body = try Parser.parseQuery(query, limits: limits)
        try Checker(tree: tree).checkQuery(body)
        return PreparedQuery(policy: self, body: body)
    }
}

/// A parsed query bound to a policy.
public struct PreparedQuery: Sendable {
    let policy: Policy
    let body: Body
    /// The query's output variables, found once.
    let outputs: [String]
    /// For a query that is just `data.<path of a complete or partial-set rule>`, the rule's key.
    let rule: String?

    init(policy: Policy, body: Body) {
        self.policy = policy
        self.body = body
        self.outputs = Evaluator.outputs(of: body)
        var rule: String?
        if body.count == 1, !body[0].negated, body[0].with.isEmpty, case .expression(let term) = body[0].kind,
            case .ref(let steps) = term.kind, case .variable("data") = steps.first?.kind
        {
            let names = steps.dropFirst().compactMap { step -> String? in
                if case .string(let name) = step.kind { return name }
                return nil
            }
            let key = names.joined(separator: ".")
            if names.count == steps.count - 1, let entries = policy.tree.entries[key], entries[0].rule.kind != .function,
                entries.allSatisfy({ $0.dynamicSteps.isEmpty })
            {
                rule = key
            }
        }
        self.rule = rule
    }

    /// The value of a query that names a document (`data.warden.decision`), as OPA's data API gives
    /// it: `false` is a value; `nil` means undefined.
    public func value(input: Value? = nil, strictBuiltinErrors: Bool = false) throws(RegoError) -> Value? {
        let body = self.body
        let policy = self.policy
        let rule = self.rule
        return try LargeStack.run { () throws(RegoError) in
            try Evaluator(policy: policy, input: input, strictBuiltinErrors: strictBuiltinErrors).documentValue(body, rule: rule)
        }
    }

    /// `value(input:)` with an explanation: every rule definition that produced a value on the way,
    /// in evaluation order (the entry point's own definitions among them), as `opa eval --explain`
    /// would point at them.
    public func explain(input: Value? = nil, strictBuiltinErrors: Bool = false) throws(RegoError) -> (value: Value?, trace: [RuleTrace]) {
        let body = self.body
        let policy = self.policy
        let rule = self.rule
        return try LargeStack.run { () throws(RegoError) in
            let evaluator = Evaluator(policy: policy, input: input, strictBuiltinErrors: strictBuiltinErrors)
            evaluator.trace = []
            let value = try evaluator.documentValue(body, rule: rule)
            return (value, evaluator.trace ?? [])
        }
    }

    /// Every solution: the values of the query's named variables (those not starting with `_`),
    /// plus, for a single-term query such as `data.p.allow`, the term's value under `"$value"`.
    public func evaluate(input: Value? = nil, strictBuiltinErrors: Bool = false) throws(RegoError) -> [[String: Value]] {
        let body = self.body
        let policy = self.policy
        let outputs = self.outputs
        let rule = self.rule
        return try LargeStack.run { () throws(RegoError) in
            try Evaluator(policy: policy, input: input, strictBuiltinErrors: strictBuiltinErrors).query(body, outputs: outputs, rule: rule)
        }
    }
}

/// Rules by their path below `data`, with each module's package and imports for name resolution.
struct RuleTree: Sendable {
    /// A function whose argument holds a template string (`f($"{x} {input.y}")`) is rewritten the way
    /// OPA's compiler does it: the argument becomes a fresh variable, and every body ends by
    /// unifying that variable with the template, whose variables the body has bound by then.
    static func bindingComputedArguments(_ rule: Rule) -> Rule {
        var rule = rule
        var equalities: [Literal] = []
        func replace(_ term: Term) -> Term {
            switch term.kind {
            case .template:
                let name = Term(.variable("__warden_arg\(equalities.count)__"), at: term.location)
                equalities.append(
                    Literal(
                        .expression(Term(.call(operator: [Term(.variable("eq"), at: term.location)], [name, term]), at: term.location)),
                        at: term.location))
                return name
            case .array(let items): return Term(.array(items.map(replace)), at: term.location)
            case .set(let items): return Term(.set(items.map(replace)), at: term.location)
            case .object(let items):
                return Term(.object(items.map { Term.ObjectItem(key: $0.key, value: replace($0.value)) }), at: term.location)
            default: return term
            }
        }
        rule.arguments = rule.arguments.map(replace)
        guard !equalities.isEmpty else { return rule }
        rule.body += equalities
        for index in rule.elses.indices { rule.elses[index].body += equalities }
        return rule
    }

    /// A class: entries are passed around on every rule evaluation, and a reference is one retain
    /// where copying the rule's fields was dozens.
    final class Entry: Sendable {
        let rule: Rule
        /// The full static path of the rule's name: package then the string steps of its ref, up to the
        /// first variable step.
        let staticPath: [String]
        /// The rule's ref steps after the static path (`a.b[c]` leaves `[c]`).
        let dynamicSteps: [Term]
        /// Where the rule's body resolves names, built once.
        let scope: Scope
        /// `input.path == constant` tests of the body (rules without `else`), checked before the body
        /// runs: a rule whose input cannot match is skipped without evaluating anything.
        let prefilter: [([String], Value)]
        /// Whether the main body is ready in source order: `unknown` until an evaluation finds out.
        let order = Atomic<Int>(Entry.unknown)
        static let unknown = 0
        static let inOrder = 1
        static let reordered = 2

        init(rule: Rule, staticPath: [String], dynamicSteps: [Term], scope: Scope) {
            self.prefilter = rule.elses.isEmpty && !rule.isDefault ? RuleIndex.constantTests(rule.body) : []
            self.rule = rule
            self.staticPath = staticPath
            self.dynamicSteps = dynamicSteps
            self.scope = scope
        }
    }

    /// Entries by static path (joined with ".").
    var entries: [String: [Entry]] = [:]
    /// Every static path prefix that leads to rules, for walking `data`.
    var prefixes: Set<String> = []
    /// Rule names (first segment) declared in each package, for resolving bare names.
    var ruleNames: [String: Set<String>] = [:]
    /// Indexes for paths with many rules (see `RuleIndex`).
    var indexes: [String: RuleIndex] = [:]
    /// `# METADATA` blocks of `package` lines, by package key.
    var packageAnnotations: [String: [Value]] = [:]

    init(modules: [Module]) throws(RegoError) {
        for module in modules {
            var imports: [String: [Term]] = [:]
            for item in module.imports {
                guard let head = item.path.first, case .variable(let root) = head.kind else { continue }
                if root == "rego" || root == "future" { continue }
                let alias: String
                if let given = item.alias {
                    alias = given
                } else if let last = item.path.last, case .string(let name) = last.kind {
                    alias = name
                } else {
                    alias = root
                }
                imports[alias] = item.path
            }
            let packageKey = module.package.joined(separator: ".")
            packageAnnotations[packageKey, default: []] += module.packageAnnotations
            // A package is a document even with no rules in it (an empty object), as in OPA.
            for length in 0...module.package.count { prefixes.insert(module.package.prefix(length).joined(separator: ".")) }
            for original in module.rules {
                let rule = original.kind == .function ? RuleTree.bindingComputedArguments(original) : original
                var staticPath = module.package
                var dynamic: [Term] = []
                for (index, step) in rule.path.enumerated() {
                    if !dynamic.isEmpty {
                        dynamic.append(step)
                        continue
                    }
                    switch step.kind {
                    case .variable(let name) where index == 0: staticPath.append(name)
                    case .string(let name): staticPath.append(name)
                    default: dynamic.append(step)
                    }
                }
                if case .variable(let name) = rule.path[0].kind {
                    ruleNames[packageKey, default: []].insert(name)
                }
                let key = staticPath.joined(separator: ".")
                entries[key, default: []].append(
                    Entry(
                        rule: rule, staticPath: staticPath, dynamicSteps: dynamic, scope: Scope(package: module.package, imports: imports)
                    )
                )
                for length in 0...staticPath.count { prefixes.insert(staticPath.prefix(length).joined(separator: ".")) }
            }
        }
        for (key, group) in entries {
            let kinds = Set(group.map { $0.rule.kind })
            if kinds.count > 1 {
                throw RegoError(
                    .compileError, "conflicting rules data.\(key) found: rules of different kinds (complete, partial set, function)",
                    location: group[0].rule.location
                )
            }
            if group.filter(\.rule.isDefault).count > 1 {
                throw RegoError(.compileError, "multiple default rules data.\(key) found", location: group[0].rule.location)
            }
            if group.allSatisfy({ $0.dynamicSteps.isEmpty }), let index = RuleIndex(group) { indexes[key] = index }
        }
    }
}
