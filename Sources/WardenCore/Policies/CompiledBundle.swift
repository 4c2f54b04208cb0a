public import Foundation
public import Rego

/// A bundle compiled once, ready for the hot path: the Rego policy with its data and the prepared
/// entry-point query. Immutable and shared by every decision of the tenant.
public final class CompiledBundle: Sendable {
    public let id: UUID
    public let version: SemanticVersion
    /// When it became the active bundle, if it has.
    public let activatedAt: Date?
    public let defaultEffect: DefaultEffect
    /// `nil` for a stored bundle this engine could not compile, or one that delegates to OPA.
    let query: PreparedQuery?
    /// The OPA server that decides for this bundle, if it delegates.
    public let external: ExternalOPA?

    /// Compiles the bundle's modules and data; a mistake is a `invalid_policy` error naming the file,
    /// line and column.
    public init(_ bundle: PolicyBundle) throws(WardenError) {
        id = bundle.id
        version = bundle.version
        activatedAt = bundle.activatedAt
        defaultEffect = bundle.defaultEffect
        external = bundle.opa
        query =
            bundle.opa == nil ? try Self.compile(modules: bundle.modules, data: bundle.data, rules: bundle.rules, entrypoint: bundle.entrypoint) : nil
    }

    init(failing bundle: PolicyBundle) {
        id = bundle.id
        version = bundle.version
        activatedAt = bundle.activatedAt
        defaultEffect = bundle.defaultEffect
        external = bundle.opa
        query = nil
    }

    static func compile(modules: [String: String], data: JSONValue, rules: JSONValue, entrypoint: String) throws(WardenError)
        -> PreparedQuery
    {
        guard case .object = data else { throw WardenError(.invalidField, "data must be a JSON object") }
        let path = try Self.entrypointPath(entrypoint)
        var modules = modules
        let parsed = try NativeRules.parse(rules)
        if !parsed.isEmpty {
            guard modules[NativeRules.moduleName] == nil else {
                throw WardenError(.invalidField, "the module name \(NativeRules.moduleName) is taken by the bundle's native rules; rename the module")
            }
            modules[NativeRules.moduleName] = NativeRules.module(parsed)
        }
        guard !modules.isEmpty else { throw WardenError(.missingField, "a bundle needs Rego modules or native rules") }
        do {
            let policy = try Policy(modules: modules, data: PolicyValue.rego(data))
            return try policy.prepare(path)
        } catch {
            throw WardenError.invalidPolicy(error)
        }
    }

    /// `data.a.b` (or `a/b`, as OPA's data API names it) as a query.
    static func entrypointPath(_ entrypoint: String) throws(WardenError) -> String {
        var text = entrypoint.trimmingCharacters(in: .whitespaces)
        if text.hasPrefix("/") { text.removeFirst() }
        if !text.hasPrefix("data.") && text != "data" { text = "data." + text.replacingOccurrences(of: "/", with: ".") }
        let names = text.split(separator: ".", omittingEmptySubsequences: false).dropFirst()
        guard !names.isEmpty,
            names.allSatisfy({ name in
                guard let first = name.first, first.isLetter || first == "_" else { return false }
                return name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
            })
        else {
            throw WardenError(.invalidField, "entrypoint must be a rule path such as data.warden.decision (got '\(entrypoint)')")
        }
        return text
    }

    /// `evaluate` with the rule definitions that produced values on the way (for `…/evaluate`).
    public func explain(_ input: Value) -> (PolicyVerdict, [RuleTrace]) {
        guard let query else { return (.error("the bundle does not compile with this version of Warden"), []) }
        do {
            let (value, trace) = try query.explain(input: input, strictBuiltinErrors: true)
            guard let value else { return (.noMatch, trace) }
            return (PolicyVerdict(result: value), trace)
        } catch {
            return (.error("\(error.code.name): \(error.message)"), [])
        }
    }

    /// Evaluates the entry point for one input document.
    public func evaluate(_ input: Value) -> PolicyVerdict {
        guard let query else {
            if external != nil { return .unavailable("an OPA-backed bundle is asked through the decision service") }
            return .error("the active bundle does not compile with this version of Warden")
        }
        // Builtin errors are errors here (OPA's strict mode): a policy that failed to evaluate denies
        // rather than falling through to the default effect, which might allow.
        let value: Value?
        do {
            value = try query.value(input: input, strictBuiltinErrors: true)
        } catch {
            return .error("\(error.code.name): \(error.message)")
        }
        guard let value else { return .noMatch }
        return PolicyVerdict(result: value)
    }
}

/// What a policy's entry point said.
public enum PolicyVerdict: Sendable, Equatable {
    case decided(effect: Effect, reasons: [String], obligations: JSONValue?)
    /// The entry point is undefined: the bundle's default effect answers.
    case noMatch
    /// An external OPA did not answer in time, or failed: the decision denies (fail closed).
    case unavailable(String)
    /// The policy failed (a runtime error or a result outside the contract): the decision denies.
    case error(String)

    /// Maps the entry point's value: `true`/`false`, an effect string, or `{effect, reasons, obligations}`.
    public init(result: Value) {
        switch result {
        case .bool(let allowed):
            self = .decided(
                effect: allowed ? .allow : .deny, reasons: [allowed ? DecisionReason.policyAllow : DecisionReason.policyDeny], obligations: nil)
        case .string(let text):
            guard let effect = Effect(rawValue: text) else {
                self = .error("entrypoint value '\(text)' is not an effect (allow, deny or require_approval)")
                return
            }
            self = .decided(effect: effect, reasons: [effect == .deny ? DecisionReason.policyDeny : DecisionReason.policyAllow], obligations: nil)
        case .object(let fields):
            guard case .string(let text)? = fields[.string("effect")], let effect = Effect(rawValue: text) else {
                self = .error("entrypoint object must have an effect of allow, deny or require_approval")
                return
            }
            var reasons: [String] = []
            let given: [Value]
            switch fields[.string("reasons")] {
            case nil, .null?: given = []
            case .string(let reason)?: given = [.string(reason)]
            case .array(let items)?: given = items
            case .set(let items)?: given = items.sorted()
            default:
                self = .error("entrypoint reasons must be a string or an array of strings")
                return
            }
            for item in given {
                guard case .string(let reason) = item else {
                    self = .error("entrypoint reasons must be strings")
                    return
                }
                reasons.append(reason)
            }
            if reasons.isEmpty { reasons = [effect == .deny ? DecisionReason.policyDeny : DecisionReason.policyAllow] }
            let obligations = fields[.string("obligations")].map(PolicyValue.json)
            self = .decided(effect: effect, reasons: reasons, obligations: obligations)
        default:
            self = .error("entrypoint value must be a boolean, an effect string or an object with an effect (got \(result.typeName))")
        }
    }
}

/// Conversions between Warden's JSON values and the Rego engine's values.
public enum PolicyValue {
    public static func rego(_ value: JSONValue) -> Value {
        switch value {
        case .null: return .null
        case .bool(let flag): return .bool(flag)
        case .int(let number): return .int(Int(number))
        case .double(let number): return Number(number.description).map(Value.number) ?? .null
        case .string(let text): return .string(text)
        case .array(let items): return .array(items.map(rego))
        case .object(let fields):
            var object: [Value: Value] = [:]
            object.reserveCapacity(fields.count)
            for (key, item) in fields { object[.string(key)] = rego(item) }
            return .object(object)
        }
    }

    public static func json(_ value: Value) -> JSONValue {
        switch value {
        case .null: return .null
        case .bool(let flag): return .bool(flag)
        case .number(let number):
            if let int = number.intValue { return .int(Int64(int)) }
            return .double(number.doubleValue)
        case .string(let text): return .string(text)
        case .array(let items): return .array(items.map(json))
        case .set(let items): return .array(items.sorted().map(json))
        case .object(let fields):
            var object: [String: JSONValue] = [:]
            for (key, item) in fields {
                if case .string(let name) = key { object[name] = json(item) } else { object[key.jsonText] = json(item) }
            }
            return .object(object)
        }
    }
}

extension WardenError {
    /// A policy that does not compile: 422 with the file, line and column of the mistake.
    static func invalidPolicy(_ error: RegoError) -> WardenError {
        var details: [String: JSONValue] = ["rego_code": .string(error.code.name)]
        if let location = error.location {
            details["file"] = .string(location.file)
            details["line"] = .int(Int64(location.line))
            details["column"] = .int(Int64(location.column))
        }
        var message = error.message
        if let location = error.location { message = "\(location.file):\(location.line):\(location.column): \(message)" }
        return WardenError(.invalidPolicy, message, details: details)
    }
}
