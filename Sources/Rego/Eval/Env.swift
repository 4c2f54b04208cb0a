/// Variable bindings during evaluation. A value type: each branch of the search owns its bindings,
/// so backtracking is just dropping a copy.
struct Env {
    var values: [String: Value] = [:]
    /// Names declared local (`some`, `:=`, function parameters), which shadow rules of the same name.
    var locals: Set<String> = []

    func value(_ name: String) -> Value? { values[name] }

    func binding(_ name: String, _ value: Value) -> Env {
        guard name != "_" else { return self }
        var copy = self
        copy.values[name] = value
        copy.locals.insert(name)
        return copy
    }

    func declaring(_ names: [String]) -> Env {
        var copy = self
        for name in names where name != "_" {
            copy.values[name] = nil
            copy.locals.insert(name)
        }
        return copy
    }
}

/// Where a body is being evaluated: its package and imports, for resolving bare names.
struct Scope {
    var package: [String]
    var imports: [String: [Term]]
    /// `package` joined with ".", computed once: name resolution looks rules up by it.
    let packageKey: String

    init(package: [String], imports: [String: [Term]]) {
        self.package = package
        self.imports = imports
        self.packageKey = package.joined(separator: ".")
    }

    static let query = Scope(package: [], imports: [:])
}

/// Stops the search once the caller has what it needs.
typealias Continue = Bool
