extension Evaluator {
    // MARK: Calls

    func evalCall(_ op: [Term], _ arguments: [Term], _ location: Location, _ env: Env, _ scope: Scope, _ next: ValueNext) throws -> Bool {
        guard let name = Term.name(ofOperator: op) else {
            throw RegoError(.compileError, "invalid call operator", location: location)
        }
        if !mocks.isEmpty, let mock = mocks[name] ?? mocks["data." + (resolveFunction(op, scope)?.joined(separator: ".") ?? "")] {
            return try callMock(mock, arguments, location, env, scope, next)
        }
        switch name {
        case "eq" where arguments.count == 2:
            return try unify(arguments[0], arguments[1], env, scope) { env in try next(.bool(true), env) }
        case "assign" where arguments.count == 2:
            return try assign(arguments[0], arguments[1], env, scope) { env in try next(.bool(true), env) }
        case "internal.member_2" where arguments.count == 2:
            return try eval(arguments[1], env, scope) { collection, env in
                try self.iterate(collection) { _, element in
                    try self.match(arguments[0], element, env, scope) { env in try next(.bool(true), env) }
                }
            }
        case "internal.member_3" where arguments.count == 3:
            return try eval(arguments[2], env, scope) { collection, env in
                try self.iterate(collection) { key, element in
                    try self.match(arguments[0], key, env, scope) { env in
                        try self.match(arguments[1], element, env, scope) { env in try next(.bool(true), env) }
                    }
                }
            }
        case "rego.metadata.rule" where arguments.isEmpty:
            // Only a block of scope `rule`; document-scope blocks appear in the chain.
            let annotations = activeEntry?.rule.annotations
            let isRuleScope = annotations.flatMap { Evaluator.index($0, .string("scope")) } == .string("rule")
            return try next(isRuleScope ? annotations! : .object([:]), env)
        case "rego.metadata.chain" where arguments.isEmpty:
            return try next(metadataChain(), env)
        case "walk" where arguments.count == 1 || arguments.count == 2:
            // A relation: every [path, value] pair of the document, the document itself first; as
            // a value (`[p, v] := walk(x)`), each pair in turn.
            return try eval(arguments[0], env, scope) { document, env in
                var pairs: [Value] = []
                Evaluator.walk(document, [], into: &pairs)
                for pair in pairs {
                    try self.tick()
                    if arguments.count == 1 {
                        if try next(pair, env) { return true }
                    } else if try self.match(arguments[1], pair, env, scope, { env in try next(.bool(true), env) }) {
                        return true
                    }
                }
                return false
            }
        default:
            break
        }
        let unshadowed = mocks.isEmpty ? policy.unshadowedBuiltins[name] : nil
        if unshadowed == nil, let path = resolveFunction(op, scope) {
            let arity = policy.tree.entries[path.joined(separator: ".")]?.first?.rule.arguments.count ?? arguments.count
            let inputs = Array(arguments.prefix(arity))
            return try evalAll(inputs, env, scope) { values, env in
                guard let result = try self.callFunction(path, values, location) else { return false }
                if arguments.count > arity { return try self.match(arguments[arity], result, env, scope) { env in try next(.bool(true), env) } }
                return try next(result, env)
            }
        }
        guard let builtin = unshadowed ?? Builtins.table[name] else {
            throw RegoError(.typeError, "undefined function \(name)", location: location)
        }
        let inputs = arguments.count == builtin.arity ? arguments : Array(arguments.prefix(builtin.arity))
        guard arguments.count == builtin.arity || arguments.count == builtin.arity + 1 else {
            throw RegoError(
                .typeError, "\(name): arity mismatch: expected \(builtin.arity) arguments, got \(arguments.count)", location: location
            )
        }
        // Two operands that need no search: no argument array, no continuation.
        if let binaryCall = builtin.binaryCall, arguments.count == 2, case .value(let left) = directValue(arguments[0], env),
            case .value(let right) = directValue(arguments[1], env)
        {
            let result: Value?
            do {
                result = try binaryCall(left, right)
            } catch let error as BuiltinError {
                guard strictBuiltinErrors else { return false }
                throw RegoError(error.isTypeError ? .evalTypeError : .builtinError, "\(name): \(error.message)", location: location)
            }
            guard let result else { return false }
            return try next(result, env)
        }
        return try evalAll(inputs, env, scope) { values, env in
            let result: Value?
            do {
                result = try builtin.call(values, self)
            } catch let error as BuiltinError {
                // As in OPA: builtin errors make the expression undefined unless strict builtin errors are on.
                guard self.strictBuiltinErrors else { return false }
                throw RegoError(error.isTypeError ? .evalTypeError : .builtinError, "\(name): \(error.message)", location: location)
            }
            guard let result else { return false }
            if arguments.count > builtin.arity {
                return try self.match(arguments[builtin.arity], result, env, scope) { env in try next(.bool(true), env) }
            }
            return try next(result, env)
        }
    }

    static func walk(_ value: Value, _ path: [Value], into pairs: inout [Value]) {
        pairs.append(.array([.array(path), value]))
        switch value {
        case .array(let items): for (index, item) in items.enumerated() { walk(item, path + [.int(index)], into: &pairs) }
        case .object(let fields): for key in fields.keys.sorted() { walk(fields[key]!, path + [key], into: &pairs) }
        case .set(let items): for item in items.sorted() { walk(item, path + [item], into: &pairs) }
        default: break
        }
    }

    func callMock(_ mock: Mock, _ arguments: [Term], _ location: Location, _ env: Env, _ scope: Scope, _ next: ValueNext) throws -> Bool {
        switch mock {
        case .value(let value):
            // The arguments are still evaluated: an undefined argument leaves the call undefined.
            return try evalAll(arguments, env, scope) { _, env in try next(value, env) }
        case .function(let term, let mockScope):
            let replacement: [Term]
            switch term.kind {
            case .variable: replacement = [term]
            case .ref(let steps): replacement = steps
            default: throw RegoError(.compileError, "with value must name a function or builtin", location: location)
            }
            let saved = mocks
            mocks = [:]
            defer { mocks = saved }
            return try evalCall(replacement, arguments, location, env, mockScope, next)
        }
    }

    // MARK: Unification

    func unify(_ lhs: Term, _ rhs: Term, _ env: Env, _ scope: Scope, _ next: Next) throws -> Bool {
        // Two composite patterns unify element by element, so variables on both sides can bind.
        if isPattern(lhs, env, scope) && isPattern(rhs, env, scope) {
            switch (lhs.kind, rhs.kind) {
            case (.array(let left), .array(let right)):
                guard left.count == right.count else { return false }
                return try unifyPairs(Array(zip(left, right)), env, scope, next)
            case (.object(let left), .object(let right)):
                // The same keys on both sides, then each pair of values unified.
                guard left.count == right.count else { return false }
                return try evalAll(left.map(\.key), env, scope) { leftKeys, env in
                    try self.evalAll(right.map(\.key), env, scope) { rightKeys, env in
                        var positions: [Value: Int] = [:]
                        for (index, key) in rightKeys.enumerated() { positions[key] = index }
                        guard positions.count == right.count, Set(leftKeys).count == left.count else { return false }
                        var pairs: [(Term, Term)] = []
                        for (index, key) in leftKeys.enumerated() {
                            guard let other = positions[key] else { return false }
                            pairs.append((left[index].value, right[other].value))
                        }
                        return try self.unifyPairs(pairs, env, scope, next)
                    }
                }
            case (.variable(let name), _) where !readsBound(rhs, env, scope, allowIteration: false):
                throw Unbound(name: name)
            default:
                break
            }
        }
        if isPattern(lhs, env, scope) {
            return try eval(rhs, env, scope) { value, env in try self.match(lhs, value, env, scope, next) }
        }
        if isPattern(rhs, env, scope) {
            return try eval(lhs, env, scope) { value, env in try self.match(rhs, value, env, scope, next) }
        }
        return try eval(lhs, env, scope) { left, env in
            try self.eval(rhs, env, scope) { right, env in left == right ? try next(env) : false }
        }
    }

    /// Unifies pairs of terms, taking first a pair that can bind (not two bare unbound variables), so
    /// `{"a": x, "b": [x]} = {"a": y, "b": [1]}` binds `x` through `b` before comparing `a`.
    func unifyPairs(_ pairs: [(Term, Term)], _ env: Env, _ scope: Scope, _ next: Next) throws -> Bool {
        guard !pairs.isEmpty else { return try next(env) }
        func bareUnbound(_ term: Term) -> Bool {
            if case .variable = term.kind { return isPattern(term, env, scope) }
            return false
        }
        let index = pairs.firstIndex { !(bareUnbound($0.0) && bareUnbound($0.1)) } ?? 0
        var rest = pairs
        let (lhs, rhs) = rest.remove(at: index)
        return try unify(lhs, rhs, env, scope) { env in try self.unifyPairs(rest, env, scope, next) }
    }

    /// `x := value`: the left side's variables are new locals, even if a rule has the same name.
    func assign(_ lhs: Term, _ rhs: Term, _ env: Env, _ scope: Scope, _ next: Next) throws -> Bool {
        var names: [String] = []
        Evaluator.variables(in: lhs, into: &names)
        return try eval(rhs, env, scope) { value, env in try self.match(lhs, value, env.declaring(names), scope, next) }
    }

    /// Whether a term has a variable without a value, so it binds rather than compares.
    func isPattern(_ term: Term, _ env: Env, _ scope: Scope) -> Bool {
        switch term.kind {
        case .variable(let name): return env.value(name) == nil && !isResolvable(name, env, scope)
        case .array(let items): return items.contains { isPattern($0, env, scope) }
        case .object(let items): return items.contains { isPattern($0.value, env, scope) }
        default: return false
        }
    }

    /// Matches a pattern against a value, binding its free variables.
    func match(_ pattern: Term, _ value: Value, _ env: Env, _ scope: Scope, _ next: Next) throws -> Bool {
        switch pattern.kind {
        case .variable(let name):
            if name == "_" { return try next(env) }
            if let bound = env.value(name) { return bound == value ? try next(env) : false }
            if isResolvable(name, env, scope) {
                return try eval(pattern, env, scope) { resolved, env in resolved == value ? try next(env) : false }
            }
            return try next(env.binding(name, value))
        case .array(let items):
            guard case .array(let values) = value, values.count == items.count else { return false }
            return try matchAll(items, values, env, scope, next)
        case .object(let items) where items.contains(where: { isPattern($0.value, env, scope) }):
            guard case .object(let fields) = value, fields.count == items.count else { return false }
            return try evalAll(items.map(\.key), env, scope) { keys, env in
                var values: [Value] = []
                for key in keys {
                    guard let element = fields[key] else { return false }
                    values.append(element)
                }
                return try self.matchAll(items.map(\.value), values, env, scope, next)
            }
        default:
            return try eval(pattern, env, scope) { resolved, env in resolved == value ? try next(env) : false }
        }
    }

    // MARK: Ordering

    /// Whether a literal can run now: every variable it reads has a value. Unification and `:=` may
    /// bind their pattern side, `some … in` binds its variables, and refs may enumerate unbound keys.
    func isReady(_ literal: Literal, _ env: Env, _ scope: Scope) -> Bool {
        switch literal.kind {
        case .someVariables: return true
        case .someIn(_, _, let collection): return readsBound(collection, env, scope, allowIteration: true)
        case .every(_, _, let domain, _): return readsBound(domain, env, scope, allowIteration: true)
        case .logical: return true  // runs where it stands, as comprehensions do
        case .expression(let term):
            if literal.negated { return readsBound(term, env, scope, allowIteration: false) }
            if case .call(let op, let args) = term.kind, let name = Term.name(ofOperator: op) {
                if name == "eq" || name == "assign", args.count == 2 {
                    if name == "assign" { return readsBound(args[1], env, scope, allowIteration: true) }
                    return readsBound(args[0], env, scope, allowIteration: true) || readsBound(args[1], env, scope, allowIteration: true)
                        || isPattern(args[0], env, scope) && readsBound(args[1], env, scope, allowIteration: true)
                }
            }
            return readsBound(term, env, scope, allowIteration: true)
        }
    }

    func readsBound(_ term: Term, _ env: Env, _ scope: Scope, allowIteration: Bool) -> Bool {
        switch term.kind {
        case .variable(let name):
            return name == "_" ? allowIteration : (env.value(name) != nil || isResolvable(name, env, scope))
        case .ref(let steps):
            guard readsBound(steps[0], env, scope, allowIteration: false) else { return false }
            for step in steps.dropFirst() {
                if case .variable = step.kind, allowIteration { continue }
                if !readsBound(step, env, scope, allowIteration: allowIteration) { return false }
            }
            return true
        case .array(let items), .set(let items): return items.allSatisfy { readsBound($0, env, scope, allowIteration: allowIteration) }
        case .object(let items):
            return items.allSatisfy {
                readsBound($0.key, env, scope, allowIteration: allowIteration) && readsBound($0.value, env, scope, allowIteration: allowIteration)
            }
        case .call(let op, let args):
            let name = Term.name(ofOperator: op) ?? ""
            if name == "internal.member_2" || name == "internal.member_3" {
                return readsBound(args[args.count - 1], env, scope, allowIteration: true)
            }
            let arity = Builtins.table[name]?.arity ?? args.count
            return args.prefix(arity).allSatisfy { readsBound($0, env, scope, allowIteration: allowIteration) }
        case .arrayComprehension, .setComprehension, .objectComprehension, .template:
            return true
        default:
            return true
        }
    }
}
