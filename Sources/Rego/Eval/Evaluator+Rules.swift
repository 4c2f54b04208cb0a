extension Evaluator {
    // MARK: Rules

    /// The value of the rules at `key` (complete, partial set, or ref-head object), cached per evaluation.
    func ruleValue(_ key: String, _ entries: [RuleTree.Entry]) throws -> Value? {
        if let cached = cache[key] { return cached }
        guard !inProgress.contains(key) else {
            throw RegoError(.recursion, "rule data.\(key) is recursive", location: entries[0].rule.location)
        }
        inProgress.append(key)
        defer { inProgress.removeLast() }
        let value: Value?
        switch entries[0].rule.kind {
        case .partialSet where entries.allSatisfy({ $0.dynamicSteps.isEmpty }): value = try partialSet(candidates(key, entries))
        case .partialSet, .complete:
            if entries.contains(where: { !$0.dynamicSteps.isEmpty }) {
                value = try refHeadObject(key, entries)
            } else {
                value = try completeValue(key, candidates(key, entries))
            }
        case .function: value = nil
        }
        cache[key] = value
        return value
    }

    /// The entries worth evaluating: all of them, or for an indexed path those filed under the
    /// current value of the indexed input path (defaults always stay).
    func candidates(_ key: String, _ entries: [RuleTree.Entry]) -> [RuleTree.Entry] {
        guard let index = policy.tree.indexes[key] else { return entries }
        var chosen = index.candidates(for: inputValue(at: index.path)).map { entries[$0] }
        if let fallback = entries.first(where: \.rule.isDefault) { chosen.append(fallback) }
        return chosen
    }

    /// Whether the entry's constant input tests hold for the current input (see `Entry.prefilter`).
    func passesPrefilter(_ entry: RuleTree.Entry) -> Bool {
        entry.prefilter.allSatisfy { path, constant in inputValue(at: path) == constant }
    }

    /// The input's value at a path of names; `nil` when undefined.
    func inputValue(at path: [String]) -> Value? {
        var value = input
        for step in path {
            guard case .object(let fields)? = value else { return nil }
            value = fields[.string(step)]
        }
        return value
    }

    func completeValue(_ key: String, _ entries: [RuleTree.Entry]) throws -> Value? {
        var result: Value?
        var location: Location?
        // The constant-test prefilter pays off when there are several rules to skip.
        let filter = entries.count >= 4
        for entry in entries where !entry.rule.isDefault && (!filter || passesPrefilter(entry)) {
            guard let value = try ruleOutput(entry, Env()) else { continue }
            if let existing = result, existing != value {
                throw RegoError(.conflict, "complete rules must not produce multiple outputs", location: location ?? entry.rule.location)
            }
            result = value
            location = entry.rule.location
        }
        if result == nil, let fallback = entries.first(where: \.rule.isDefault), let term = fallback.rule.value {
            _ = try eval(term, Env(), fallback.scope) { value, _ in
                result = value
                return true
            }
            if trace != nil, let result { trace?.append(RuleTrace(entry: fallback, location: fallback.rule.location, value: result)) }
        }
        return result
    }

    /// The value one rule (with its `else` chain) produces, or `nil` when its bodies fail.
    func ruleOutput(_ entry: RuleTree.Entry, _ start: Env) throws -> Value? {
        let caller = activeEntry
        activeEntry = entry
        defer { activeEntry = caller }
        let rule = entry.rule
        if let value = try clauseOutput(rule, rule.value, rule.body, entry.scope, start, entry: entry) {
            if trace != nil { trace?.append(RuleTrace(entry: entry, location: rule.location, value: value)) }
            return value
        }
        for clause in rule.elses {
            if let value = try clauseOutput(rule, clause.value, clause.body, entry.scope, start) {
                if trace != nil { trace?.append(RuleTrace(entry: entry, location: clause.location, value: value)) }
                return value
            }
        }
        return nil
    }

    /// The one value a rule's body (or one `else` clause) gives; more than one is a conflict.
    func clauseOutput(_ rule: Rule, _ valueTerm: Term?, _ body: Body, _ scope: Scope, _ start: Env, entry: RuleTree.Entry? = nil)
        throws -> Value?
    {
        var found: Value?
        var conflict = false
        let solution: Next = { env in
            guard let valueTerm else {
                found = .bool(true)
                return true  // `true` cannot conflict with itself: one solution is enough.
            }
            return try self.eval(valueTerm, env, scope) { value, _ in
                if let existing = found, existing != value {
                    conflict = true
                    return true
                }
                found = value
                return false
            }
        }
        if let entry {
            _ = try evalRuleBody(entry, start, solution)
        } else {
            _ = try evalBody(body, 0, start, scope, solution)
        }
        if conflict {
            throw RegoError(
                .conflict,
                rule.kind == .function
                    ? "functions must not produce multiple outputs for same inputs" : "complete rules must not produce multiple outputs",
                location: rule.location
            )
        }
        return found
    }

    func partialSet(_ entries: [RuleTree.Entry]) throws -> Value {
        var items: Set<Value> = []
        let filter = entries.count >= 4
        for entry in entries where !filter || passesPrefilter(entry) {
            guard let keyTerm = entry.rule.key else { continue }
            let scope = entry.scope
            let caller = activeEntry
            activeEntry = entry
            defer { activeEntry = caller }
            _ = try evalRuleBody(entry, Env()) { env in
                try self.eval(keyTerm, env, scope) { value, _ in
                    items.insert(value)
                    if self.trace != nil { self.trace?.append(RuleTrace(entry: entry, location: entry.rule.location, value: value)) }
                    return false
                }
            }
        }
        return .set(items)
    }

    /// `a.b[c] := v`, `p[k] := v`, `a[b][c] contains d`: an object built from every solution's key
    /// path and value (for `contains`, a set at the end of the path that collects the values).
    func refHeadObject(_ key: String, _ entries: [RuleTree.Entry]) throws -> Value? {
        var object: Value = .object([:])
        var defined = false
        for entry in entries where !entry.rule.isDefault && passesPrefilter(entry) {
            let scope = entry.scope
            let isSet = entry.rule.kind == .partialSet
            let caller = activeEntry
            activeEntry = entry
            defer { activeEntry = caller }
            guard let valueTerm = isSet ? entry.rule.key : entry.rule.value ?? Term(.boolean(true), at: entry.rule.location) else { continue }
            _ = try evalBody(entry.rule.body, 0, Env(), scope) { env in
                try self.evalAll(entry.dynamicSteps, env, scope) { keys, env in
                    try self.eval(valueTerm, env, scope) { value, _ in
                        object =
                            isSet
                            ? try Evaluator.inserting(member: value, at: keys, into: object, location: entry.rule.location)
                            : try Evaluator.inserting(value, at: keys, into: object, location: entry.rule.location)
                        defined = true
                        return false
                    }
                }
            }
        }
        // Rules with longer static paths below this one (`p.q.r := 1` beside `p.q[s] := 2`) join the object.
        let prefix = key + "."
        var children: Set<String> = []
        for candidate in policy.tree.entries.keys where candidate.hasPrefix(prefix) {
            if let child = candidate.dropFirst(prefix.count).split(separator: ".").first { children.insert(String(child)) }
        }
        let path = key.split(separator: ".").map(String.init)
        for child in children.sorted() {
            guard let value = try fullData(path + [child]) else { continue }
            object = try Evaluator.inserting(value, at: [.string(child)], into: object, location: entries[0].rule.location)
            defined = true
        }
        if !defined, let fallback = entries.first(where: \.rule.isDefault), let term = fallback.rule.value {
            var result: Value?
            _ = try eval(term, Env(), fallback.scope) { value, _ in
                result = value
                return true
            }
            return result
        }
        return object
    }

    /// Adds `member` to the set at the end of `keys` (created when absent).
    static func inserting(member: Value, at keys: [Value], into document: Value, location: Location) throws -> Value {
        guard let first = keys.first else {
            switch document {
            case .set(var items):
                items.insert(member)
                return .set(items)
            case .object(let fields) where fields.isEmpty: return .set([member])
            default: throw RegoError(.conflict, "object keys must be unique", location: location)
            }
        }
        guard case .object(var fields) = document else { throw RegoError(.conflict, "object keys must be unique", location: location) }
        fields[first] = try inserting(member: member, at: Array(keys.dropFirst()), into: fields[first] ?? .object([:]), location: location)
        return .object(fields)
    }

    static func inserting(_ value: Value, at keys: [Value], into object: Value, location: Location) throws -> Value {
        guard let first = keys.first else { return value }
        guard case .object(var fields) = object else {
            throw RegoError(.conflict, "object keys must be unique", location: location)
        }
        if keys.count == 1 {
            if let existing = fields[first], existing != value {
                throw RegoError(.conflict, "object keys must be unique", location: location)
            }
            fields[first] = value
        } else {
            fields[first] = try inserting(value, at: Array(keys.dropFirst()), into: fields[first] ?? .object([:]), location: location)
        }
        return .object(fields)
    }

    // MARK: Functions

    /// The rule path a call operator names, if it is a user function.
    func resolveFunction(_ path: [Term], _ scope: Scope) -> [String]? {
        policy.tree.resolveFunction(path, scope)
    }

    func callFunction(_ path: [String], _ arguments: [Value], _ location: Location) throws -> Value? {
        let key = path.joined(separator: ".")
        guard let entries = policy.tree.entries[key] else { return nil }
        var result: Value?
        for entry in entries where !entry.rule.isDefault {
            guard entry.rule.arguments.count == arguments.count else { continue }
            let scope = entry.scope
            var outputs: [Value] = []
            var parameters: [String] = []
            for argument in entry.rule.arguments { Evaluator.variables(in: argument, into: &parameters) }
            _ = try matchAll(entry.rule.arguments, arguments, Env().declaring(parameters), scope) { env in
                if let value = try self.ruleOutput(entry, env), !outputs.contains(value) { outputs.append(value) }
                return false
            }
            for value in outputs {
                if let existing = result, existing != value {
                    throw RegoError(.conflict, "functions must not produce multiple outputs for same inputs", location: location)
                }
                result = value
            }
        }
        if result == nil, let fallback = entries.first(where: \.rule.isDefault), let term = fallback.rule.value {
            _ = try eval(term, Env(), fallback.scope) { value, _ in
                result = value
                return true
            }
        }
        return result
    }

    func matchAll(_ patterns: [Term], _ values: [Value], _ env: Env, _ scope: Scope, _ next: Next) throws -> Bool {
        func step(_ index: Int, _ env: Env) throws -> Bool {
            guard index < patterns.count else { return try next(env) }
            return try match(patterns[index], values[index], env, scope) { env in try step(index + 1, env) }
        }
        return try step(0, env)
    }
}

extension Evaluator {
    /// `rego.metadata.chain()`: the active rule, then the `# METADATA` blocks that apply to it from the
    /// rule's document, its package and the packages above it (scope `subpackages`), innermost first.
    func metadataChain() -> Value {
        guard let entry = activeEntry else { return .array([]) }
        func scope(_ annotations: Value) -> Value? { Evaluator.index(annotations, .string("scope")) }
        let rulePath = Value.array(entry.staticPath.map(Value.string))
        var chain: [Value] = []
        var first: [Value: Value] = [.string("path"): rulePath]
        if let annotations = entry.rule.annotations, scope(annotations) == .string("rule") { first[.string("annotations")] = annotations }
        chain.append(.object(first))
        let key = entry.staticPath.joined(separator: ".")
        if let document = policy.tree.entries[key]?.compactMap(\.rule.annotations).first(where: { scope($0) == .string("document") }) {
            chain.append(.object([.string("path"): rulePath, .string("annotations"): document]))
        }
        let package = entry.scope.package
        for length in stride(from: package.count, through: 0, by: -1) {
            let prefix = Array(package.prefix(length))
            for annotations in policy.tree.packageAnnotations[prefix.joined(separator: ".")] ?? [] {
                let kind = scope(annotations)
                guard kind == .string("subpackages") || (length == package.count && kind == .string("package")) else { continue }
                chain.append(.object([.string("path"): .array(prefix.map(Value.string)), .string("annotations"): annotations]))
            }
        }
        return .array(chain)
    }
}
