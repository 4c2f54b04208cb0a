/// Compile-time checks, run once when a policy or query is prepared, so mistakes surface before the
/// first evaluation: calls of functions that do not exist (or that Warden refuses, such as
/// `http.send`), wrong argument counts, variables that nothing binds, and rules that depend on
/// themselves.
///
/// The safety check is deliberately generous about what binds a variable (any position where
/// evaluation could bind it counts), so it never rejects a policy the evaluator could run; the
/// evaluator still orders literals at run time.
struct Checker {
    let tree: RuleTree

    /// Builtins OPA has that Warden refuses on purpose, with the reason.
    static let refused: [String: String] = [
        "http.send": "http.send is not supported: Warden policies must not make network calls",
        "net.lookup_ip_addr": "net.lookup_ip_addr is not supported: Warden policies must not make network calls",
        "opa.runtime": "opa.runtime is not supported: it describes an OPA process",
        "rand.intn": "rand.intn is not supported: Warden decisions are deterministic",
        "trace": "trace is not supported",
    ]

    /// Names the evaluator handles itself, with their argument counts.
    static let special: [String: Int] = [
        "eq": 2, "assign": 2, "internal.member_2": 2, "internal.member_3": 3, "walk": 1, "rego.metadata.rule": 0, "rego.metadata.chain": 0,
    ]

    // MARK: Policies

    func checkModules() throws(RegoError) {
        for key in tree.entries.keys.sorted() {
            for entry in tree.entries[key]! { try check(entry) }
        }
        try checkRecursion()
    }

    func check(_ entry: RuleTree.Entry) throws(RegoError) {
        let rule = entry.rule
        var globals = Set(entry.scope.imports.keys)
        globals.formUnion(tree.ruleNames[entry.scope.packageKey] ?? [])
        globals.formUnion(["input", "data"])
        var bound: Set<String> = []
        for argument in rule.arguments { Checker.variables(in: argument, into: &bound) }
        // The head: the value, key and ref-head steps are read after the body binds their variables.
        var head: [Term] = Array(rule.path.dropFirst())
        if let key = rule.key { head.append(key) }
        if let value = rule.value { head.append(value) }
        try checkBody(rule.body, head: head, outer: bound, globals: globals, scope: entry.scope)
        for item in rule.elses {
            try checkBody(item.body, head: item.value.map { [$0] } ?? [], outer: bound, globals: globals, scope: entry.scope)
        }
    }

    // MARK: Queries

    func checkQuery(_ body: Body) throws(RegoError) {
        // A query's unbound variables are its outputs only when something binds them.
        try checkBody(body, head: [], outer: [], globals: ["input", "data"], scope: .query)
    }

    // MARK: Bodies

    /// Checks a body whose variables may also be bound by `outer` (enclosing bodies and function
    /// parameters), then the `head` terms read after it.
    func checkBody(_ body: Body, head: [Term], outer: Set<String>, globals: Set<String>, scope: Scope) throws(RegoError) {
        var bound = outer
        for literal in body where !literal.negated { bindings(of: literal, into: &bound, scope: scope) }
        let known = bound.union(globals)
        for literal in body { try checkLiteral(literal, known: known, globals: globals, scope: scope) }
        for term in head { try checkTerm(term, known: known, globals: globals, scope: scope) }
    }

    func checkLiteral(_ literal: Literal, known: Set<String>, globals: Set<String>, scope: Scope) throws(RegoError) {
        switch literal.kind {
        case .expression(let term):
            try checkTerm(term, known: known, globals: globals, scope: scope)
        case .someVariables:
            break
        case .someIn(let key, let value, let collection):
            if let key { try checkTerm(key, known: known, globals: globals, scope: scope) }
            try checkTerm(value, known: known, globals: globals, scope: scope)
            try checkTerm(collection, known: known, globals: globals, scope: scope)
        case .every(let key, let value, let domain, let body):
            try checkTerm(domain, known: known, globals: globals, scope: scope)
            var inner = known
            if let key { Checker.variables(in: key, into: &inner) }
            Checker.variables(in: value, into: &inner)
            try checkBody(body, head: [], outer: inner, globals: globals, scope: scope)
        case .logical(_, let operands):
            for operand in operands { try checkBody(operand, head: [], outer: known, globals: globals, scope: scope) }
        }
        for modifier in literal.with {
            // A refused builtin as the replacement is refused here too (`with time.now_ns as opa.runtime`).
            if case .ref(let steps) = modifier.value.kind, let name = Term.name(ofOperator: steps), let reason = Checker.refused[name] {
                throw RegoError(.typeError, reason, location: modifier.location)
            }
            if !namesFunction(modifier.value, scope: scope) {
                try checkTerm(modifier.value, known: known, globals: globals, scope: scope)
            }
            try checkWithTarget(modifier, scope: scope)
        }
    }

    func checkWithTarget(_ modifier: Literal.With, scope: Scope) throws(RegoError) {
        let steps: [Term]
        switch modifier.target.kind {
        case .variable: steps = [modifier.target]
        case .ref(let refSteps): steps = refSteps
        default: throw RegoError(.compileError, "with target must be a reference", location: modifier.location)
        }
        guard let name = Term.name(ofOperator: steps), let root = name.split(separator: ".").first else {
            throw RegoError(.compileError, "with target must be a reference", location: modifier.location)
        }
        if root == "input" || root == "data" || Builtins.table[name] != nil || resolveFunction(steps, scope) != nil { return }
        if let reason = Checker.refused[name] { throw RegoError(.typeError, reason, location: modifier.location) }
        throw RegoError(
            .typeError, "with keyword target \(name) must be input, data, a function or a builtin", location: modifier.location
        )
    }

    /// Whether a `with` value names a builtin or function (a mock replacement) rather than a value.
    func namesFunction(_ term: Term, scope: Scope) -> Bool {
        let steps: [Term]
        switch term.kind {
        case .variable: steps = [term]
        case .ref(let refSteps): steps = refSteps
        default: return false
        }
        guard let name = Term.name(ofOperator: steps) else { return false }
        return Builtins.table[name] != nil || Checker.refused[name] != nil || resolveFunction(steps, scope) != nil
    }

    func checkTerm(_ term: Term, known: Set<String>, globals: Set<String>, scope: Scope) throws(RegoError) {
        switch term.kind {
        case .null, .boolean, .number, .string:
            break
        case .variable(let name):
            if name == "_" || name.hasPrefix("$") || known.contains(name) { return }
            throw RegoError(.unsafeVariable, "var \(name) is unsafe", location: term.location)
        case .ref(let steps):
            for step in steps { try checkTerm(step, known: known, globals: globals, scope: scope) }
        case .array(let items), .set(let items):
            for item in items { try checkTerm(item, known: known, globals: globals, scope: scope) }
        case .object(let items):
            for item in items {
                try checkTerm(item.key, known: known, globals: globals, scope: scope)
                try checkTerm(item.value, known: known, globals: globals, scope: scope)
            }
        case .arrayComprehension(let head, let body), .setComprehension(let head, let body):
            try checkBody(body, head: [head], outer: known, globals: globals, scope: scope)
        case .objectComprehension(let key, let value, let body):
            try checkBody(body, head: [key, value], outer: known, globals: globals, scope: scope)
        case .call(let op, let arguments):
            try checkCall(op, arguments, at: term.location, scope: scope)
            for argument in arguments { try checkTerm(argument, known: known, globals: globals, scope: scope) }
        case .template(let parts):
            for part in parts {
                switch part {
                case .text: break
                case .expression(let inner): try checkTerm(inner, known: known, globals: globals, scope: scope)
                case .modified(let inner, let modifiers):
                    try checkTerm(inner, known: known, globals: globals, scope: scope)
                    for modifier in modifiers {
                        if !namesFunction(modifier.value, scope: scope) {
                            try checkTerm(modifier.value, known: known, globals: globals, scope: scope)
                        }
                        try checkWithTarget(modifier, scope: scope)
                    }
                }
            }
        }
    }

    // MARK: Calls

    func checkCall(_ op: [Term], _ arguments: [Term], at location: Location, scope: Scope) throws(RegoError) {
        guard let name = Term.name(ofOperator: op) else {
            throw RegoError(.typeError, "invalid call operator", location: location)
        }
        let arities: [Int]
        let root = String(name.prefix(while: { $0 != "." }))
        if scope.imports[root] == nil, tree.ruleNames[scope.packageKey]?.contains(root) == true, resolveFunction(op, scope) == nil {
            // A rule of the package shadows a builtin of the same name, as in OPA.
            let path = (scope.package + name.split(separator: ".").map(String.init)).joined(separator: ".")
            if tree.entries[path] != nil {
                throw RegoError(
                    .typeError, "function data.\(path) has arity 0, got \(arguments.count) argument\(arguments.count == 1 ? "" : "s")",
                    location: location)
            }
            throw RegoError(.typeError, "undefined function data.\(path)", location: location)
        }
        if let count = Checker.special[name] {
            arities = name == "walk" ? [count, count + 1] : [count]
        } else if let path = resolveFunction(op, scope) {
            arities = Array(Set(tree.entries[path.joined(separator: ".")]!.map(\.rule.arguments.count))).sorted()
            if arities.contains(where: { arguments.count == $0 || arguments.count == $0 + 1 }) { return }
            throw arityError(name, arguments.count, arities, location)
        } else if let builtin = Builtins.table[name] {
            arities = [builtin.arity, builtin.arity + 1]
        } else if let reason = Checker.refused[name] {
            throw RegoError(.typeError, reason, location: location)
        } else {
            throw RegoError(.typeError, "undefined function \(name)", location: location)
        }
        if !arities.contains(arguments.count) { throw arityError(name, arguments.count, [arities[0]], location) }
    }

    func arityError(_ name: String, _ have: Int, _ want: [Int], _ location: Location) -> RegoError {
        let wanted = want.map { "\($0) argument\($0 == 1 ? "" : "s")" }.joined(separator: " or ")
        return RegoError(.typeError, "\(name): arity mismatch: have \(have) argument\(have == 1 ? "" : "s"), want \(wanted)", location: location)
    }

    func resolveFunction(_ op: [Term], _ scope: Scope) -> [String]? {
        tree.resolveFunction(op, scope)
    }

    // MARK: Recursion

    /// Rejects a rule that depends on itself through other rules (OPA's `rego_recursion_error`).
    func checkRecursion() throws(RegoError) {
        var edges: [String: Set<String>] = [:]
        for (key, group) in tree.entries {
            var targets: Set<String> = []
            for entry in group { dependencies(of: entry, into: &targets) }
            edges[key] = targets
        }
        // Depth-first search with colours, iterative (rule chains may be thousands deep); the first
        // back edge names the cycle.
        var state: [String: Int] = [:]
        let sortedEdges = edges.mapValues { $0.sorted() }
        for root in edges.keys.sorted() where state[root] == nil {
            var stack: [(node: String, next: Int)] = [(root, 0)]
            state[root] = 1
            while let top = stack.last {
                let targets = sortedEdges[top.node] ?? []
                guard top.next < targets.count else {
                    state[top.node] = 2
                    stack.removeLast()
                    continue
                }
                stack[stack.count - 1].next += 1
                let target = targets[top.next]
                switch state[target] {
                case 1:
                    let path = stack.map(\.node).drop(while: { $0 != target }) + [target]
                    throw RegoError(
                        .recursion, "rule data.\(target) is recursive: \(path.map { "data.\($0)" }.joined(separator: " -> "))",
                        location: tree.entries[target]?.first?.rule.location
                    )
                case nil:
                    state[target] = 1
                    stack.append((target, 0))
                default:
                    break
                }
            }
        }
    }

    /// The rule keys an entry reads: bare names of rules in its package, imports and `data` refs.
    func dependencies(of entry: RuleTree.Entry, into targets: inout Set<String>) {
        var locals: Set<String> = []
        let rule = entry.rule
        for argument in rule.arguments { Checker.variables(in: argument, into: &locals) }
        Checker.forEachLiteral(of: rule) { literal in
            Checker.declarations(of: literal, into: &locals)
        }
        func visit(_ term: Term) {
            switch term.kind {
            case .variable(let name):
                if !locals.contains(name) { addRef([term]) }
            case .ref(let steps):
                if case .variable(let name) = steps[0].kind, !locals.contains(name) { addRef(steps) }
                steps.dropFirst().forEach(visit)
            case .call(let op, let arguments):
                if let path = resolveFunction(op, entry.scope) { targets.insert(path.joined(separator: ".")) }
                arguments.forEach(visit)
            default:
                Checker.children(of: term).forEach(visit)
            }
        }
        func addRef(_ steps: [Term]) {
            guard let pattern = tree.pattern(steps, entry.scope) else { return }
            // The ref reads every rule its steps could name: a rule whose path and the ref agree on
            // their common length (a variable step agrees with any name).
            if !pattern.contains(where: { $0 == nil }) {
                // All names (the common case): the rules at a prefix of the ref, and, only when rules
                // live below the ref, those below it. No scan of every rule (policies have thousands).
                let names = pattern.map { $0! }
                var key = ""
                for (index, name) in names.enumerated() {
                    key = index == 0 ? name : key + "." + name
                    if tree.entries[key] != nil { targets.insert(key) }
                }
                guard tree.prefixes.contains(key) else { return }
                for candidate in tree.entries.keys where candidate.hasPrefix(key + ".") { targets.insert(candidate) }
                return
            }
            for (key, group) in tree.entries {
                let path = group[0].staticPath
                let common = min(path.count, pattern.count)
                if (0..<common).allSatisfy({ pattern[$0] == nil || pattern[$0] == path[$0] }) { targets.insert(key) }
            }
        }
        Checker.forEachTerm(of: rule, visit)
    }

    // MARK: Walking the syntax

    static func forEachLiteral(of rule: Rule, _ body: (Literal) -> Void) {
        func walk(_ literals: Body) {
            for literal in literals {
                body(literal)
                if case .every(_, _, _, let inner) = literal.kind { walk(inner) }
                if case .logical(_, let operands) = literal.kind { operands.forEach(walk) }
            }
        }
        walk(rule.body)
        for item in rule.elses { walk(item.body) }
    }

    static func forEachTerm(of rule: Rule, _ visit: (Term) -> Void) {
        rule.path.dropFirst().forEach(visit)
        if let key = rule.key { visit(key) }
        if let value = rule.value { visit(value) }
        func walk(_ literals: Body) {
            for literal in literals {
                switch literal.kind {
                case .expression(let term): visit(term)
                case .someVariables: break
                case .someIn(let key, let value, let collection):
                    if let key { visit(key) }
                    visit(value)
                    visit(collection)
                case .every(_, _, let domain, let inner):
                    visit(domain)
                    walk(inner)
                case .logical(_, let operands):
                    operands.forEach(walk)
                }
                for modifier in literal.with { visit(modifier.value) }
            }
        }
        walk(rule.body)
        for item in rule.elses {
            if let value = item.value { visit(value) }
            walk(item.body)
        }
    }

    static func children(of term: Term) -> [Term] {
        switch term.kind {
        case .null, .boolean, .number, .string, .variable: return []
        case .ref(let steps): return steps
        case .array(let items), .set(let items): return items
        case .object(let items): return items.flatMap { [$0.key, $0.value] }
        case .arrayComprehension(let head, let body), .setComprehension(let head, let body): return [head] + bodyTerms(body)
        case .objectComprehension(let key, let value, let body): return [key, value] + bodyTerms(body)
        case .call(_, let arguments): return arguments
        case .template(let parts):
            return parts.flatMap { part -> [Term] in
                switch part {
                case .text: return []
                case .expression(let inner): return [inner]
                case .modified(let inner, let modifiers): return [inner] + modifiers.map(\.value)
                }
            }
        }
    }

    static func bodyTerms(_ body: Body) -> [Term] {
        var terms: [Term] = []
        for literal in body {
            switch literal.kind {
            case .expression(let term): terms.append(term)
            case .someVariables(let names): terms.append(contentsOf: names)
            case .someIn(let key, let value, let collection): terms += [key, value, collection].compactMap { $0 }
            case .every(let key, let value, let domain, let inner): terms += [key, value, domain].compactMap { $0 } + bodyTerms(inner)
            case .logical(_, let operands): terms += operands.flatMap(bodyTerms)
            }
            terms += literal.with.map(\.value)
        }
        return terms
    }

    /// Variables of a pattern term (arrays, objects, sets nested), not those inside refs or calls.
    static func variables(in term: Term, into names: inout Set<String>) {
        switch term.kind {
        case .variable(let name): names.insert(name)
        case .array(let items), .set(let items): for item in items { variables(in: item, into: &names) }
        case .object(let items):
            for item in items {
                variables(in: item.key, into: &names)
                variables(in: item.value, into: &names)
            }
        default: break
        }
    }

    /// Names a literal declares as locals (`:=`, `some`, `some … in`, `every`), which shadow rules.
    static func declarations(of literal: Literal, into names: inout Set<String>) {
        switch literal.kind {
        case .expression(let term):
            if case .call(let op, let arguments) = term.kind, Term.name(ofOperator: op) == "assign", arguments.count == 2 {
                variables(in: arguments[0], into: &names)
            }
        case .someVariables(let terms): for term in terms { variables(in: term, into: &names) }
        case .someIn(let key, let value, _):
            if let key { variables(in: key, into: &names) }
            variables(in: value, into: &names)
        case .every(let key, let value, _, _):
            if let key { variables(in: key, into: &names) }
            variables(in: value, into: &names)
        case .logical:
            break
        }
    }

    /// Every variable a positive literal could bind: pattern sides of `=` and `:=`, variable steps of
    /// refs (iteration), output arguments of calls, `some … in` patterns.
    func bindings(of literal: Literal, into names: inout Set<String>, scope: Scope) {
        func arity(_ op: [Term]) -> Int? {
            guard let name = Term.name(ofOperator: op) else { return nil }
            if let count = Checker.special[name] { return count }
            if let path = resolveFunction(op, scope) { return tree.entries[path.joined(separator: ".")]!.map(\.rule.arguments.count).min() }
            return Builtins.table[name]?.arity
        }
        func variables(in term: Term, into names: inout Set<String>) { Checker.variables(in: term, into: &names) }
        func refSteps(_ term: Term) {
            switch term.kind {
            case .ref(let steps):
                for step in steps.dropFirst() {
                    variables(in: step, into: &names)
                    refSteps(step)
                }
                refSteps(steps[0])
            case .call(let op, let arguments):
                if let name = Term.name(ofOperator: op), name == "eq" || name == "assign" {
                    for argument in arguments { variables(in: argument, into: &names) }
                } else if let last = arguments.last, let arity = arity(op), arguments.count > arity {
                    // An extra argument beyond the arity is an output.
                    variables(in: last, into: &names)
                }
                arguments.forEach(refSteps)
            case .array(let items), .set(let items): items.forEach(refSteps)
            case .object(let items):
                for item in items {
                    refSteps(item.key)
                    refSteps(item.value)
                }
            default: break
            }
        }
        switch literal.kind {
        case .expression(let term):
            refSteps(term)
        case .someVariables:
            break
        case .someIn(let key, let value, let collection):
            if let key { variables(in: key, into: &names) }
            variables(in: value, into: &names)
            refSteps(collection)
        case .every(_, _, let domain, _):
            refSteps(domain)
        case .logical:
            break  // an operand's variables stay inside it
        }
    }
}

extension RuleTree {
    /// The path below `data` a ref could name from `scope`, with `nil` for a step that is not a
    /// constant string (any name); `nil` when the ref does not read `data`.
    func pattern(_ steps: [Term], _ scope: Scope) -> [String?]? {
        guard case .variable(let root) = steps.first?.kind else { return nil }
        var rest: [String?] = []
        for step in steps.dropFirst() {
            switch step.kind {
            case .string(let name): rest.append(name)
            case .null, .boolean, .number: rest.append("\u{0}")  // a constant that names no rule
            default: rest.append(nil)
            }
        }
        if root == "data" { return rest }
        if let imported = scope.imports[root], let importedName = Term.name(ofOperator: imported) {
            var importedParts = importedName.split(separator: ".").map(String.init)
            guard importedParts.first == "data" else { return nil }
            importedParts.removeFirst()
            return importedParts.map { Optional($0) } + rest
        }
        guard ruleNames[scope.packageKey]?.contains(root) == true else { return nil }
        return (scope.package + [root]).map { Optional($0) } + rest
    }

    /// The path below `data` that a ref of constant names reads from `scope`: `data.a.b`, an imported
    /// alias, or a bare name of a rule in the scope's package.
    func resolve(_ steps: [Term], _ scope: Scope) -> [String]? {
        guard case .variable(let root) = steps.first?.kind else { return nil }
        // The root decides first (most calls are builtins, whose root is none of these).
        var base: [String]
        if root == "data" {
            base = []
        } else if let imported = scope.imports[root] {
            guard let importedName = Term.name(ofOperator: imported) else { return nil }
            let importedParts = importedName.split(separator: ".").map(String.init)
            guard importedParts.first == "data" else { return nil }
            base = Array(importedParts.dropFirst())
        } else if ruleNames[scope.packageKey]?.contains(root) == true {
            base = scope.package + [root]
        } else {
            return nil
        }
        for step in steps.dropFirst() {
            guard case .string(let name) = step.kind else { return nil }
            base.append(name)
        }
        return base
    }

    /// The rule path of a user function called as `op` from `scope`, or `nil` (a builtin or nothing).
    func resolveFunction(_ op: [Term], _ scope: Scope) -> [String]? {
        guard let path = resolve(op, scope), let group = entries[path.joined(separator: ".")], group[0].rule.kind == .function else {
            return nil
        }
        return path
    }
}
