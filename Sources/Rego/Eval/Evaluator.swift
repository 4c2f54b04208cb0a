import Foundation
import Synchronization

/// Top-down evaluation with backtracking, as OPA's own evaluator does: every term, literal and body
/// is evaluated in continuation-passing style; a continuation returns `true` to stop the search.
final class Evaluator {
    typealias Next = (Env) throws -> Bool
    typealias ValueNext = (Value, Env) throws -> Bool

    let policy: Policy
    var input: Value?
    /// `with data.x as v` replacements, by dotted path.
    var dataOverrides: [[String]: Value] = [:]
    /// `with f as g` replacements of functions and builtins, by name.
    var mocks: [String: Mock] = [:]
    /// The rule whose body is being evaluated, for `rego.metadata.rule()` and `rego.metadata.chain()`.
    var activeEntry: RuleTree.Entry?
    /// When explaining, every rule definition that produced a value, in evaluation order.
    var trace: [RuleTrace]?
    let strictBuiltinErrors: Bool
    var cache: [String: Value?] = [:]
    /// Rules being evaluated, innermost last (a short stack: a linear scan beats hashing).
    var inProgress: [String] = []
    var steps = 0
    let maxSteps: Int
    let maxDepth: Int
    /// Below this stack address the evaluation stops and is retried on a large stack.
    let stackLimit: UInt
    /// Nesting of literals being evaluated (rules calling rules, comprehensions, `every`).
    var depth = 0
    /// `time.now_ns` is fixed for one evaluation, as in OPA.
    lazy var nowNanoseconds: Int = {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return spec.tv_sec * 1_000_000_000 + spec.tv_nsec
    }()

    /// The deepest nesting the evaluation thread's stack is sized for.
    static let depthCeiling = 1_000

    init(policy: Policy, input: Value?, strictBuiltinErrors: Bool, maxSteps: Int? = nil) {
        self.policy = policy
        self.input = input
        self.strictBuiltinErrors = strictBuiltinErrors
        self.maxSteps = maxSteps ?? policy.limits.maxEvaluationSteps
        self.maxDepth = min(policy.limits.maxEvaluationDepth, Evaluator.depthCeiling)
        self.stackLimit = LargeStack.limit()
    }

    // MARK: Queries

    func query(_ body: Body, outputs known: [String]? = nil, rule: String? = nil) throws(RegoError) -> [[String: Value]] {
        try Evaluator.regoErrors {
            // `data.<rule path>`: the rule's value, without walking the path.
            if let rule, let entries = policy.tree.entries[rule] {
                guard let value = try ruleValue(rule, entries), value != .bool(false) else { return [] }
                return [["$value": value]]
            }
            return try rows(body, outputs: known ?? Evaluator.outputs(of: body))
        }
    }

    /// The document a single-term query names (as OPA's data API returns it): `false` included,
    /// `nil` when undefined. A query of several terms gives its first row's `$value`.
    func documentValue(_ body: Body, rule: String?) throws(RegoError) -> Value? {
        try Evaluator.regoErrors {
            if let rule, let entries = policy.tree.entries[rule] { return try ruleValue(rule, entries) }
            if body.count == 1, case .expression(let term) = body[0].kind, !body[0].negated, body[0].with.isEmpty {
                var found: Value?
                _ = try eval(term, Env(), .query) { value, _ in
                    found = value
                    return true
                }
                return found
            }
            return try rows(body, outputs: Evaluator.outputs(of: body)).first?["$value"]
        }
    }

    func rows(_ body: Body, outputs: [String]) throws -> [[String: Value]] {
        var rows: [[String: Value]] = []
        var singleTerm: Term?
        if body.count == 1, case .expression(let term) = body[0].kind, !body[0].negated, body[0].with.isEmpty {
            switch term.kind {
            case .call(let op, _) where ["eq", "assign"].contains(Term.name(ofOperator: op) ?? ""): break
            default: singleTerm = term
            }
        }
        if let singleTerm {
            _ = try eval(singleTerm, Env(), .query) { value, env in
                var row: [String: Value] = [:]
                for name in outputs { if let value = env.value(name) { row[name] = value } }
                row["$value"] = value
                if value != .bool(false) { rows.append(row) }
                return false
            }
        } else {
            _ = try evalBody(body, 0, Env(), .query) { env in
                var row: [String: Value] = [:]
                for name in outputs { if let value = env.value(name) { row[name] = value } }
                rows.append(row)
                return false
            }
        }
        return rows
    }

    /// Runs an evaluation and turns the evaluator's internal errors into `RegoError`s.
    static func regoErrors<T>(_ body: () throws -> T) throws(RegoError) -> T {
        do {
            return try body()
        } catch let error as RegoError {
            throw error
        } catch is LargeStack.Exhausted {
            throw RegoError(.stackExhausted, "stack exhausted")
        } catch let error as Unbound {
            throw RegoError(.unsafeVariable, "var \(error.name) is unsafe")
        } catch {
            throw RegoError(.compileError, "internal error: \(error)")
        }
    }

    /// The query's named variables (not `_…`, `input` or `data`), in order of appearance.
    static func outputs(of body: Body) -> [String] {
        var names: [String] = []
        var seen: Set<String> = []
        for literal in body { collectVariables(literal, into: &names, seen: &seen) }
        return names.filter { !$0.hasPrefix("_") && $0 != "input" && $0 != "data" }
    }

    static func collectVariables(_ literal: Literal, into names: inout [String], seen: inout Set<String>) {
        func visit(_ term: Term) {
            switch term.kind {
            case .variable(let name):
                if !seen.contains(name) {
                    seen.insert(name)
                    names.append(name)
                }
            case .ref(let steps): steps.forEach(visit)
            case .array(let items), .set(let items): items.forEach(visit)
            case .object(let items):
                for item in items {
                    visit(item.key)
                    visit(item.value)
                }
            case .call(_, let arguments): arguments.forEach(visit)
            default: break
            }
        }
        switch literal.kind {
        case .expression(let term): visit(term)
        case .someVariables(let terms): terms.forEach(visit)
        case .someIn(let key, let value, let collection):
            if let key { visit(key) }
            visit(value)
            visit(collection)
        case .every, .logical: break
        }
    }

    func tick() throws {
        steps += 1
        if steps > maxSteps { throw RegoError(.limitExceeded, "evaluation exceeded \(maxSteps) steps") }
    }

    // MARK: Bodies and literals

    func evalBody(_ body: Body, _ index: Int, _ env: Env, _ scope: Scope, _ next: Next) throws -> Bool {
        guard index < body.count else { return try next(env) }
        // Evaluate a literal whose inputs are bound; if this one is not ready, a later ready one goes first
        // (OPA orders body literals for safety at compile time; this is the same order, found at run time).
        if !isReady(body[index], env, scope) {
            for later in (index + 1)..<body.count where isReady(body[later], env, scope) {
                var reordered = body
                let literal = reordered.remove(at: later)
                reordered.insert(literal, at: index)
                return try evalLiteral(reordered[index], env, scope) { env in try self.evalBody(reordered, index + 1, env, scope, next) }
            }
        }
        return try evalLiteral(body[index], env, scope) { env in try self.evalBody(body, index + 1, env, scope, next) }
    }

    /// A rule body known to be ready in source order (see `RuleTree.Entry.order`): no readiness checks.
    func evalBodyInOrder(_ body: Body, _ index: Int, _ env: Env, _ scope: Scope, _ next: Next) throws -> Bool {
        guard index < body.count else { return try next(env) }
        return try evalLiteral(body[index], env, scope) { env in try self.evalBodyInOrder(body, index + 1, env, scope, next) }
    }

    /// A rule's main body, learning its order: whether every literal is ready in source order does not
    /// depend on values (bindings happen at the same literals whatever they bind), so once one
    /// evaluation has reached the end with every literal ready, later ones skip the checks; a body
    /// that needed reordering keeps the checks.
    func evalRuleBody(_ entry: RuleTree.Entry, _ env: Env, _ next: Next) throws -> Bool {
        let body = entry.rule.body
        switch entry.order.load(ordering: .relaxed) {
        case RuleTree.Entry.inOrder: return try evalBodyInOrder(body, 0, env, entry.scope, next)
        case RuleTree.Entry.reordered: return try evalBody(body, 0, env, entry.scope, next)
        default: break
        }
        func step(_ index: Int, _ env: Env) throws -> Bool {
            guard index < body.count else {
                entry.order.store(RuleTree.Entry.inOrder, ordering: .relaxed)
                return try next(env)
            }
            guard isReady(body[index], env, entry.scope) else {
                entry.order.store(RuleTree.Entry.reordered, ordering: .relaxed)
                return try evalBody(body, index, env, entry.scope, next)
            }
            return try evalLiteral(body[index], env, entry.scope) { env in try step(index + 1, env) }
        }
        return try step(0, env)
    }

    func evalLiteral(_ literal: Literal, _ env: Env, _ scope: Scope, _ next: Next) throws -> Bool {
        try tick()
        depth += 1
        defer { depth -= 1 }
        if LargeStack.currentAddress() < stackLimit { throw LargeStack.Exhausted() }
        guard depth <= maxDepth else {
            throw RegoError(.limitExceeded, "evaluation nested deeper than \(maxDepth) levels", location: literal.location)
        }
        if !literal.with.isEmpty { return try evalWith(literal, env, scope, next) }
        if literal.negated {
            var found = false
            _ = try evalPositive(literal, env, scope) { _ in
                found = true
                return true
            }
            return found ? false : try next(env)
        }
        return try evalPositive(literal, env, scope, next)
    }

    func evalPositive(_ literal: Literal, _ env: Env, _ scope: Scope, _ next: Next) throws -> Bool {
        switch literal.kind {
        case .expression(let term):
            if case .call(let op, let args) = term.kind, let name = Term.name(ofOperator: op), mocks[name] == nil {
                if name == "eq", args.count == 2 { return try unify(args[0], args[1], env, scope, next) }
                if name == "assign", args.count == 2 { return try assign(args[0], args[1], env, scope, next) }
            }
            return try eval(term, env, scope) { value, env in
                if case .bool(false) = value { return false }
                return try next(env)
            }
        case .someVariables(let terms):
            let names = terms.compactMap { term -> String? in
                if case .variable(let name) = term.kind { return name }
                return nil
            }
            return try next(env.declaring(names))
        case .someIn(let key, let value, let collection):
            var declared: [String] = []
            if let key { Evaluator.variables(in: key, into: &declared) }
            Evaluator.variables(in: value, into: &declared)
            return try eval(collection, env, scope) { collectionValue, outer in
                let base = outer.declaring(declared)
                return try self.iterate(collectionValue) { elementKey, element in
                    if let key {
                        return try self.match(key, elementKey, base, scope) { env in try self.match(value, element, env, scope, next) }
                    }
                    return try self.match(value, element, base, scope, next)
                }
            }
        case .every(let key, let value, let domain, let body):
            return try eval(domain, env, scope) { domainValue, env in
                var allHold = true
                _ = try self.iterate(domainValue) { elementKey, element in
                    var inner = env
                    if let key, case .variable(let name) = key.kind { inner = inner.binding(name, elementKey) }
                    if case .variable(let name) = value.kind { inner = inner.binding(name, element) }
                    var holds = false
                    _ = try self.evalBody(body, 0, inner, scope) { _ in
                        holds = true
                        return true
                    }
                    if !holds {
                        allHold = false
                        return true
                    }
                    return false
                }
                return allHold ? try next(env) : false
            }
        case .logical(let op, let operands):
            func holds(_ body: Body) throws -> Bool {
                var found = false
                _ = try evalBody(body, 0, env, scope) { _ in
                    found = true
                    return true
                }
                return found
            }
            switch op {
            case .and, .group:
                for operand in operands where try !holds(operand) { return false }
            case .or:
                var any = false
                for operand in operands where try holds(operand) {
                    any = true
                    break
                }
                if !any { return false }
            }
            return try next(env)
        }
    }

    /// Calls `body(key, element)` for each element: array index and item, object key and value, set element twice.
    func iterate(_ collection: Value, _ body: (Value, Value) throws -> Bool) throws -> Bool {
        switch collection {
        case .array(let items):
            for (index, item) in items.enumerated() {
                try tick()
                if try body(.int(index), item) { return true }
            }
        case .object(let fields):
            for key in fields.keys.sorted() {
                try tick()
                if try body(key, fields[key]!) { return true }
            }
        case .set(let items):
            for item in items.sorted() {
                try tick()
                if try body(item, item) { return true }
            }
        default:
            break
        }
        return false
    }

    static func variables(in term: Term, into names: inout [String]) {
        switch term.kind {
        case .variable(let name): names.append(name)
        case .array(let items), .set(let items): for item in items { variables(in: item, into: &names) }
        case .object(let items): for item in items { variables(in: item.value, into: &names) }
        default: break
        }
    }

    // MARK: with

    func evalWith(_ literal: Literal, _ env: Env, _ scope: Scope, _ next: Next) throws -> Bool {
        // Evaluate the modifier values first, in the current state.
        var replacements: [(Literal.With, Value?)] = []
        for modifier in literal.with {
            // A function target replaced by another function or builtin is resolved at each call; by
            // anything else, the value is taken here, where its variables are bound.
            if functionName(modifier.target, scope) != nil, functionName(modifier.value, scope) != nil {
                replacements.append((modifier, nil))
                continue
            }
            var value: Value?
            _ = try eval(modifier.value, env, scope) { found, _ in
                value = found
                return true
            }
            guard let value else { return false }
            replacements.append((modifier, value))
        }
        let savedInput = input
        let savedData = dataOverrides
        let savedMocks = mocks
        let savedCache = cache
        defer {
            input = savedInput
            dataOverrides = savedData
            mocks = savedMocks
            cache = savedCache
        }
        cache = [:]
        for (modifier, value) in replacements {
            if let value, case .ref(let steps) = modifier.target.kind, case .variable(let root) = steps[0].kind, root == "input" || root == "data" {
                let path = try steps.dropFirst().map { step -> String in
                    guard case .string(let key) = step.kind else {
                        throw RegoError(.compileError, "with target must be a path of names", location: modifier.location)
                    }
                    return key
                }
                if root == "input" {
                    input = Evaluator.replacing(input ?? .object([:]), at: Array(path), with: value)
                } else {
                    dataOverrides[Array(path)] = value
                }
            } else if let value, case .variable(let root) = modifier.target.kind, root == "input" || root == "data" {
                if root == "input" { input = value } else { dataOverrides[[]] = value }
            } else if let name = functionName(modifier.target, scope) {
                mocks[name] = value.map(Mock.value) ?? .function(modifier.value, scope)
            } else {
                throw RegoError(.compileError, "with keyword target must reference input, data or a function", location: modifier.location)
            }
        }
        var solutions: [Env] = []
        var plain = literal
        plain.with = []
        _ = try evalLiteral(plain, env, scope) { env in
            solutions.append(env)
            return false
        }
        input = savedInput
        dataOverrides = savedData
        mocks = savedMocks
        cache = savedCache
        for solution in solutions where try next(solution) { return true }
        return false
    }

    /// What a `with` modifier puts in place of a function or builtin.
    enum Mock {
        /// Another function or builtin, called with the same arguments.
        case function(Term, Scope)
        /// A value: every call (with defined arguments) returns it.
        case value(Value)
    }

    static func replacing(_ value: Value, at path: [String], with replacement: Value) -> Value {
        guard let first = path.first else { return replacement }
        var fields: [Value: Value] = [:]
        if case .object(let existing) = value { fields = existing }
        fields[.string(first)] = replacing(fields[.string(first)] ?? .object([:]), at: Array(path.dropFirst()), with: replacement)
        return .object(fields)
    }

    /// The dotted name of a function or builtin a `with` target or call operator refers to.
    func functionName(_ term: Term, _ scope: Scope) -> String? {
        let path: [Term]
        switch term.kind {
        case .variable: path = [term]
        case .ref(let steps): path = steps
        default: return nil
        }
        guard let name = Term.name(ofOperator: path) else { return nil }
        if Builtins.table[name] != nil { return name }
        if let resolved = resolveFunction(path, scope) { return "data." + resolved.joined(separator: ".") }
        return nil
    }
}
