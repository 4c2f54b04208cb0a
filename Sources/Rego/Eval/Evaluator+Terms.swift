extension Evaluator {
    // MARK: Terms

    func eval(_ term: Term, _ env: Env, _ scope: Scope, _ next: ValueNext) throws -> Bool {
        switch term.kind {
        case .null: return try next(.null, env)
        case .boolean(let value): return try next(.bool(value), env)
        case .number(let text):
            guard let number = Number(text) else { throw RegoError(.parseError, "invalid number \(text)", location: term.location) }
            return try next(.number(number), env)
        case .string(let value): return try next(.string(value), env)
        case .variable(let name):
            if let value = env.value(name) { return try next(value, env) }
            return try evalRef([term], env, scope, next)
        case .ref(let steps):
            switch directValue(term, env) {
            case .value(let value): return try next(value, env)
            case .undefined: return false
            case .notDirect: return try evalRef(steps, env, scope, next)
            }
        case .array(let items):
            return try evalAll(items, env, scope) { values, env in try next(.array(values), env) }
        case .set(let items):
            return try evalAll(items, env, scope) { values, env in try next(.set(Set(values)), env) }
        case .object(let items):
            return try evalAll(items.flatMap { [$0.key, $0.value] }, env, scope) { values, env in
                var fields: [Value: Value] = [:]
                // A key computed twice keeps its first value, as in OPA.
                for index in stride(from: 0, to: values.count, by: 2) where fields[values[index]] == nil {
                    fields[values[index]] = values[index + 1]
                }
                return try next(.object(fields), env)
            }
        case .arrayComprehension(let head, let body):
            var items: [Value] = []
            _ = try evalBody(body, 0, env, scope) { inner in
                try self.eval(head, inner, scope) { value, _ in
                    items.append(value)
                    return false
                }
            }
            return try next(.array(items), env)
        case .setComprehension(let head, let body):
            var items: Set<Value> = []
            _ = try evalBody(body, 0, env, scope) { inner in
                try self.eval(head, inner, scope) { value, _ in
                    items.insert(value)
                    return false
                }
            }
            return try next(.set(items), env)
        case .objectComprehension(let keyTerm, let valueTerm, let body):
            var fields: [Value: Value] = [:]
            _ = try evalBody(body, 0, env, scope) { inner in
                try self.eval(keyTerm, inner, scope) { key, inner in
                    try self.eval(valueTerm, inner, scope) { value, _ in
                        if let existing = fields[key], existing != value {
                            throw RegoError(.conflict, "object keys must be unique", location: term.location)
                        }
                        fields[key] = value
                        return false
                    }
                }
            }
            return try next(.object(fields), env)
        case .call(let op, let arguments):
            return try evalCall(op, arguments, term.location, env, scope, next)
        case .template(let parts):
            return try evalTemplate(parts, 0, "", env, scope, next)
        }
    }

    func evalTemplate(_ parts: [Term.TemplatePart], _ index: Int, _ prefix: String, _ env: Env, _ scope: Scope, _ next: ValueNext) throws -> Bool {
        guard index < parts.count else { return try next(.string(prefix), env) }
        switch parts[index] {
        case .text(let text):
            return try evalTemplate(parts, index + 1, prefix + text, env, scope, next)
        case .expression(let term):
            var value: Value?
            _ = try eval(term, env, scope) { found, _ in
                value = found
                return true
            }
            let text: String
            switch value {
            case .none: text = "<undefined>"
            case .some(let other): text = Builtins.display(other)
            }
            return try evalTemplate(parts, index + 1, prefix + text, env, scope, next)
        case .modified(let term, let modifiers):
            // Evaluated as the literal `__template_value__ := term with …`, whose binding is the value.
            let name = "__template_value__"
            let target = Term(.variable(name), at: term.location)
            let literal = Literal(
                .expression(Term(.call(operator: [Term(.variable("assign"), at: term.location)], [target, term]), at: term.location)),
                with: modifiers, at: term.location)
            var value: Value?
            _ = try evalWith(literal, env.declaring([name]), scope) { found in
                value = found.value(name)
                return true
            }
            let text = value.map(Builtins.display) ?? "<undefined>"
            return try evalTemplate(parts, index + 1, prefix + text, env, scope, next)
        }
    }

    /// Evaluates terms left to right, enumerating every combination.
    func evalAll(_ terms: [Term], _ env: Env, _ scope: Scope, _ next: ([Value], Env) throws -> Bool) throws -> Bool {
        // Terms that evaluate directly (constants, bound variables, plain refs) need no continuations.
        var direct: [Value] = []
        direct.reserveCapacity(terms.count)
        for term in terms {
            switch directValue(term, env) {
            case .value(let value): direct.append(value)
            case .undefined: return false
            case .notDirect: return try evalAllSlowly(terms, env, scope, next)
            }
        }
        return try next(direct, env)
    }

    func evalAllSlowly(_ terms: [Term], _ env: Env, _ scope: Scope, _ next: ([Value], Env) throws -> Bool) throws -> Bool {
        // A bare variable without a value waits for the other terms, which may bind it
        // (`foo == input.foos[foo]`), as OPA's compiler orders them.
        let waiting = terms.indices.filter { index in
            if case .variable(let name) = terms[index].kind { return env.value(name) == nil && !isResolvable(name, env, scope) }
            return false
        }
        if !waiting.isEmpty, waiting.count < terms.count {
            let order = terms.indices.filter { !waiting.contains($0) } + waiting
            var values = [Value](repeating: .null, count: terms.count)
            func step(_ position: Int, _ env: Env) throws -> Bool {
                guard position < order.count else { return try next(values, env) }
                let index = order[position]
                return try eval(terms[index], env, scope) { value, env in
                    values[index] = value
                    return try step(position + 1, env)
                }
            }
            return try step(0, env)
        }
        var values: [Value] = []
        values.reserveCapacity(terms.count)
        func step(_ index: Int, _ env: Env) throws -> Bool {
            guard index < terms.count else { return try next(values, env) }
            return try eval(terms[index], env, scope) { value, env in
                values.append(value)
                defer { values.removeLast() }
                return try step(index + 1, env)
            }
        }
        return try step(0, env)
    }

    enum Direct {
        case value(Value)
        case undefined
        case notDirect
    }

    /// The value of a term that needs no search: a scalar, a bound variable, `input`, or a ref from
    /// one of those through constant or bound steps. Anything else (rules, iteration, calls) is
    /// `notDirect` and goes through `eval`.
    func directValue(_ term: Term, _ env: Env) -> Direct {
        switch term.kind {
        case .null: return .value(.null)
        case .boolean(let flag): return .value(.bool(flag))
        case .string(let text): return .value(.string(text))
        case .number(let text): return Number(text).map { .value(.number($0)) } ?? .notDirect
        case .variable(let name):
            if let value = env.value(name) { return .value(value) }
            if name == "input", !env.isLocal(name) { return input.map { .value($0) } ?? .undefined }
            return .notDirect
        case .ref(let steps):
            guard case .variable(let root) = steps[0].kind else { return .notDirect }
            var current: Value
            var baseOnly = false
            if let value = env.value(root) {
                current = value
            } else if root == "input", !env.isLocal(root) {
                guard let input else { return .undefined }
                current = input
            } else if root == "data", !env.isLocal(root), dataOverrides.isEmpty, steps.count > 1, case .string(let first) = steps[1].kind,
                !policy.tree.prefixes.contains(first)
            {
                // No rule lives under `data.<first>`: it is base data only.
                current = policy.data
                baseOnly = true
            } else {
                return .notDirect
            }
            for step in steps.dropFirst() {
                let key: Value
                switch step.kind {
                case .string(let name): key = .string(name)
                case .number(let text):
                    guard let number = Number(text) else { return .notDirect }
                    key = .number(number)
                case .variable(let name):
                    guard let value = env.value(name) else { return .notDirect }
                    key = value
                case .ref:
                    // `data.roles[input.tool.name]`: a step that is itself a plain ref.
                    switch directValue(step, env) {
                    case .value(let value): key = value
                    case .undefined: return .undefined
                    case .notDirect: return .notDirect
                    }
                default: return .notDirect
                }
                guard let next = Evaluator.index(current, key) ?? (baseOnly ? Evaluator.numberKey(current, key) : nil) else {
                    return .undefined
                }
                current = next
            }
            return .value(current)
        default:
            return .notDirect
        }
    }

    // MARK: References

    func evalRef(_ steps: [Term], _ env: Env, _ scope: Scope, _ next: ValueNext) throws -> Bool {
        let head = steps[0]
        let rest = Array(steps.dropFirst())
        if case .variable(let name) = head.kind {
            if let value = env.value(name) { return try navigate(value, rest, env, scope, next) }
            if name == "_" || env.isLocal(name) {
                throw Unbound(name: name)
            }
            if name == "input" {
                guard let input else { return false }
                return try navigate(input, rest, env, scope, next)
            }
            if name == "data" { return try evalData([], rest, env, scope, next) }
            if let imported = scope.imports[name] {
                return try evalRef(imported + rest, env, scope, next)
            }
            if policy.tree.ruleNames[scope.packageKey]?.contains(name) == true {
                return try evalData(scope.package + [name], rest, env, scope, next)
            }
            throw Unbound(name: name)
        }
        return try eval(head, env, scope) { value, env in try self.navigate(value, rest, env, scope, next) }
    }

    /// Steps into a value: ground steps index it; unbound variables enumerate it.
    func navigate(_ value: Value, _ steps: [Term], _ env: Env, _ scope: Scope, _ next: ValueNext) throws -> Bool {
        try navigate(value, steps[...], env, scope, next)
    }

    func navigate(_ value: Value, _ steps: ArraySlice<Term>, _ env: Env, _ scope: Scope, _ next: ValueNext) throws -> Bool {
        guard let step = steps.first else { return try next(value, env) }
        let rest = steps.dropFirst()
        // Constant names and numbers index directly (the common `input.tool.name`).
        switch step.kind {
        case .string(let name):
            guard let element = Evaluator.index(value, .string(name)) else { return false }
            return try navigate(element, rest, env, scope, next)
        default:
            break
        }
        if case .variable(let name) = step.kind, env.value(name) == nil, !isResolvable(name, env, scope) {
            return try iterate(value) { key, element in
                let bound = name == "_" ? env : env.binding(name, key)
                return try self.navigate(element, rest, bound, scope, next)
            }
        }
        if isPattern(step, env, scope) {
            // `s[[1, x]]`: every key that matches the pattern, binding its variables.
            return try iterate(value) { key, element in
                try self.match(step, key, env, scope) { env in try self.navigate(element, rest, env, scope, next) }
            }
        }
        return try eval(step, env, scope) { key, env in
            guard let element = Evaluator.index(value, key) else { return false }
            return try self.navigate(element, rest, env, scope, next)
        }
    }

    /// Base data keys are strings; OPA's store finds `data.a[2]` under the key "2".
    static func numberKey(_ value: Value, _ key: Value) -> Value? {
        guard case .number(let number) = key, case .object(let fields) = value else { return nil }
        return fields[.string(number.description)]
    }

    static func index(_ value: Value, _ key: Value) -> Value? {
        switch (value, key) {
        case (.array(let items), .number(let number)):
            guard let position = number.intValue, position >= 0, position < items.count else { return nil }
            return items[position]
        case (.object(let fields), _): return fields[key]
        case (.set(let items), _): return items.contains(key) ? key : nil
        default: return nil
        }
    }

    /// Whether a bare name refers to something other than a fresh variable.
    func isResolvable(_ name: String, _ env: Env, _ scope: Scope) -> Bool {
        if name == "_" || env.isLocal(name) { return false }
        if name == "input" || name == "data" || scope.imports[name] != nil { return true }
        return policy.tree.ruleNames[scope.packageKey]?.contains(name) == true
    }

    // MARK: The data document

    /// Evaluates `data.<path>` followed by `steps`, descending through rules and base data.
    func evalData(_ start: [String], _ allSteps: [Term], _ env: Env, _ scope: Scope, _ next: ValueNext) throws -> Bool {
        // Constant name steps through packages (no rule yet) are taken at once.
        var path = start
        var consumed = 0
        var joined = start.joined(separator: ".")
        if dataOverrides.isEmpty {
            while consumed < allSteps.count, case .string(let child) = allSteps[consumed].kind, policy.tree.entries[joined] == nil {
                let longer = joined.isEmpty ? child : joined + "." + child
                guard policy.tree.prefixes.contains(longer) else { break }
                path.append(child)
                joined = longer
                consumed += 1
            }
        }
        let steps = consumed == 0 ? allSteps : Array(allSteps.dropFirst(consumed))
        for length in stride(from: path.count, through: 0, by: -1) where !dataOverrides.isEmpty {
            if let override = dataOverrides[Array(path.prefix(length))] {
                var value: Value? = override
                for key in path.dropFirst(length) { value = value.flatMap { Evaluator.index($0, .string(key)) } }
                guard let value else { return false }
                return try navigate(value, steps, env, scope, next)
            }
        }
        let key = joined
        if !dataOverrides.isEmpty, dataOverrides.keys.contains(where: { $0.count > path.count && Array($0.prefix(path.count)) == path }) {
            // A replacement below this path: descend by name when the next step is one; otherwise
            // build the document here with the replacements applied.
            if let step = steps.first, !isPattern(step, env, scope) {
                let rest = Array(steps.dropFirst())
                return try eval(step, env, scope) { stepValue, env in
                    if case .string(let child) = stepValue { return try self.evalData(path + [child], rest, env, scope, next) }
                    guard let value = try self.fullData(path), let element = Evaluator.index(value, stepValue) else { return false }
                    return try self.navigate(element, rest, env, scope, next)
                }
            }
            guard let value = try fullData(path) else { return false }
            return try navigate(value, steps, env, scope, next)
        }
        if let entries = policy.tree.entries[key] {
            if entries[0].rule.kind == .function { return false }
            guard let value = try ruleValue(key, entries) else { return false }
            return try navigate(value, steps, env, scope, next)
        }
        if policy.tree.prefixes.contains(key) {
            guard let step = steps.first else {
                guard let value = try fullData(path) else { return false }
                return try next(value, env)
            }
            let rest = Array(steps.dropFirst())
            if case .variable(let name) = step.kind, env.value(name) == nil, !isResolvable(name, env, scope) {
                guard let value = try fullData(path) else { return false }
                return try navigate(value, steps, env, scope, next)
            }
            return try eval(step, env, scope) { stepValue, env in
                // Where rules live the document is an object with string keys: another key names nothing
                // (and building the whole document for it could reach the rule asking).
                switch stepValue {
                case .string(let child): return try self.evalData(path + [child], rest, env, scope, next)
                // Base data keys are strings; OPA's store finds `data.a[2]` under the key "2".
                case .number(let number): return try self.evalData(path + [number.description], rest, env, scope, next)
                default: return false
                }
            }
        }
        guard var value = baseData(path) else { return false }
        // Base data keys are strings; OPA's store finds `data.a[2]` under the key "2".
        var rest = steps[...]
        while let step = rest.first, case .number(let text) = step.kind, let number = Number(text),
            let found = Evaluator.numberKey(value, .number(number))
        {
            value = found
            rest = rest.dropFirst()
        }
        return try navigate(value, rest.count == steps.count ? steps : Array(rest), env, scope, next)
    }

    func baseData(_ path: [String]) -> Value? {
        var value: Value? = policy.data
        for key in path { value = value.flatMap { Evaluator.index($0, .string(key)) } }
        return value
    }

    /// The whole virtual document at `path`: base data merged with every rule below it.
    func fullData(_ path: [String]) throws -> Value? {
        var value = try fullDataWithoutOverrides(path)
        for (overridePath, replacement) in dataOverrides.sorted(by: { $0.key.count < $1.key.count })
        where overridePath.count >= path.count && Array(overridePath.prefix(path.count)) == path {
            value = Evaluator.replacing(value ?? .object([:]), at: Array(overridePath.dropFirst(path.count)), with: replacement)
        }
        return value
    }

    func fullDataWithoutOverrides(_ path: [String]) throws -> Value? {
        let key = path.joined(separator: ".")
        if let entries = policy.tree.entries[key] {
            if entries[0].rule.kind == .function { return nil }
            return try ruleValue(key, entries)
        }
        var fields: [Value: Value] = [:]
        if case .object(let base) = baseData(path) ?? .null { fields = base }
        let prefix = key.isEmpty ? "" : key + "."
        var children: Set<String> = []
        for candidate in policy.tree.prefixes where candidate.hasPrefix(prefix) && candidate != key {
            let remainder = candidate.dropFirst(prefix.count)
            if let child = remainder.split(separator: ".").first { children.insert(String(child)) }
        }
        for child in children.sorted() {
            if let value = try fullData(path + [child]) {
                if case .object(let existing) = fields[.string(child)] ?? .null, case .object(let computed) = value {
                    fields[.string(child)] = .object(existing.merging(computed) { _, new in new })
                } else {
                    fields[.string(child)] = value
                }
            }
        }
        return .object(fields)
    }
}

/// Raised when a literal needs a variable that has no value yet.
struct Unbound: Error {
    var name: String
}
