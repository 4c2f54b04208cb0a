/// Variable bindings during evaluation. A value type: each branch of the search owns its bindings,
/// so backtracking is just dropping a copy.
struct Env {
    /// Local names in declaration order, with their values (`nil`: declared, not bound yet). Bodies
    /// have a handful of locals, so a linear scan beats hashing, and a binding copies two small arrays
    /// where a dictionary would rehash.
    private var names: [String] = []
    private var slots: [Value?] = []

    init() {}

    func value(_ name: String) -> Value? {
        var index = names.count - 1
        while index >= 0 {
            if names[index] == name { return slots[index] }
            index -= 1
        }
        return nil
    }

    /// Whether `name` is a local (bound or declared), which shadows rules of the same name.
    func isLocal(_ name: String) -> Bool { names.contains(name) }

    func binding(_ name: String, _ value: Value) -> Env {
        guard name != "_" else { return self }
        var copy = self
        if let index = names.firstIndex(of: name) {
            copy.slots[index] = value
        } else {
            copy.names.append(name)
            copy.slots.append(value)
        }
        return copy
    }

    func declaring(_ declared: [String]) -> Env {
        var copy = self
        for name in declared where name != "_" {
            if let index = copy.names.firstIndex(of: name) {
                copy.slots[index] = nil
            } else {
                copy.names.append(name)
                copy.slots.append(nil)
            }
        }
        return copy
    }
}

/// Where a body is being evaluated: its package and imports, for resolving bare names.
/// A class: a scope is passed to every evaluation step, and a reference is one retain where the
/// struct's three fields were three.
final class Scope: Sendable {
    let package: [String]
    let imports: [String: [Term]]
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
