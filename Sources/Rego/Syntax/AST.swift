/// A parsed term with where it came from.
public struct Term: Sendable, Equatable {
    public indirect enum Kind: Sendable, Equatable {
        case null
        case boolean(Bool)
        /// The literal's text, exactly as written (numbers keep OPA's exact decimal semantics).
        case number(String)
        case string(String)
        case variable(String)
        /// `head.a[b]…`: the head term, then one term per step (a dot step is a string term).
        case ref([Term])
        case array([Term])
        case object([ObjectItem])
        case set([Term])
        case arrayComprehension(Term, Body)
        case setComprehension(Term, Body)
        case objectComprehension(key: Term, value: Term, Body)
        /// A call of a builtin or function: the operator (a ref such as `count` or `data.lib.f`) and arguments.
        /// Infix operators become calls too: `x + y` is `plus(x, y)`, `x == y` is `equal(x, y)`,
        /// `x = y` is `eq(x, y)`, `x := y` is `assign(x, y)`, `x in xs` is `internal.member_2(x, xs)`.
        case call(operator: [Term], [Term])
        /// `$"…{expr}…"`.
        case template([TemplatePart])
    }

    public struct ObjectItem: Sendable, Equatable {
        public var key: Term
        public var value: Term

        public init(key: Term, value: Term) {
            self.key = key
            self.value = value
        }
    }

    public enum TemplatePart: Sendable, Equatable {
        case text(String)
        case expression(Term)
        /// `{x with input as {...}}`: an expression evaluated under `with` modifiers.
        case modified(Term, [Literal.With])
    }

    public var kind: Kind
    public var location: Location

    public init(_ kind: Kind, at location: Location) {
        self.kind = kind
        self.location = location
    }

    /// The operator name of a call whose operator is a plain ref of variable and string steps, such as `io.jwt.decode`.
    public static func name(ofOperator path: [Term]) -> String? {
        if path.count == 1, case .variable(let name) = path[0].kind { return name }
        // `time.now_ns`, `strings.any_prefix_match`: the common two-part names, without an array.
        if path.count == 2, case .variable(let head) = path[0].kind, case .string(let tail) = path[1].kind { return head + "." + tail }
        var parts: [String] = []
        for (index, step) in path.enumerated() {
            switch step.kind {
            case .variable(let name) where index == 0: parts.append(name)
            case .string(let name) where index > 0: parts.append(name)
            default: return nil
            }
        }
        return parts.joined(separator: ".")
    }
}

/// A query: literals that must all hold.
public typealias Body = [Literal]

/// One literal of a body.
public struct Literal: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case expression(Term)
        /// `some x, y`
        case someVariables([Term])
        /// `some v in xs` / `some k, v in xs`
        case someIn(key: Term?, value: Term, collection: Term)
        /// `every v in xs { … }` / `every k, v in xs { … }`
        case every(key: Term?, value: Term, domain: Term, body: Body)
        /// `{ … } and …`, `… or …`, `not { … }` (OPA's experimental keywords, enabled by
        /// `import future.keywords.and|or|not`): each operand is a body of its own, whose variables
        /// stay inside it, and holds when the body has a solution. `.group` has one operand.
        case logical(LogicalOperator, [Body])
    }

    public enum LogicalOperator: String, Sendable, Equatable {
        case and, or, group
    }

    public struct With: Sendable, Equatable {
        public var target: Term
        public var value: Term
        public var location: Location

        public init(target: Term, value: Term, location: Location) {
            self.target = target
            self.value = value
            self.location = location
        }
    }

    public var kind: Kind
    public var negated: Bool
    public var with: [With]
    public var location: Location

    public init(_ kind: Kind, negated: Bool = false, with: [With] = [], at location: Location) {
        self.kind = kind
        self.negated = negated
        self.with = with
        self.location = location
    }
}

/// A rule: `[default] head [if] { body } [else …]`.
public struct Rule: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// `p := v`, `p = v`, `a.b[c] := v`: one value per key path.
        case complete
        /// `p contains x` (or `p[x]` without a value): the rule adds `x` to a set.
        case partialSet
        /// `f(x, y) := v`
        case function
    }

    public struct Else: Sendable, Equatable {
        public var value: Term?
        public var body: Body
        public var location: Location

        public init(value: Term?, body: Body, location: Location) {
            self.value = value
            self.body = body
            self.location = location
        }
    }

    public var kind: Kind
    public var isDefault: Bool
    /// The rule's name as a ref: a variable, then string or variable/term steps (`a.b[c]`).
    public var path: [Term]
    /// Function arguments.
    public var arguments: [Term]
    /// The element of a partial set rule.
    public var key: Term?
    /// The value; `nil` means `true` for complete rules.
    public var value: Term?
    /// Whether the value was given with `:=` (as opposed to `=`).
    public var assigns: Bool
    /// Empty means the rule always holds.
    public var body: Body
    public var elses: [Else]
    public var location: Location
    /// The rule's `# METADATA` block, normalized as OPA returns it from `rego.metadata.rule()`.
    public var annotations: Value?

    public init(
        kind: Kind, isDefault: Bool, path: [Term], arguments: [Term] = [], key: Term? = nil, value: Term?, assigns: Bool, body: Body,
        elses: [Else] = [], location: Location
    ) {
        self.kind = kind
        self.isDefault = isDefault
        self.path = path
        self.arguments = arguments
        self.key = key
        self.value = value
        self.assigns = assigns
        self.body = body
        self.elses = elses
        self.location = location
    }
}

public struct Import: Sendable, Equatable {
    /// `data.x.y`, `input`, `rego.v1`, `future.keywords.in`, …
    public var path: [Term]
    public var alias: String?
    public var location: Location

    public init(path: [Term], alias: String?, location: Location) {
        self.path = path
        self.alias = alias
        self.location = location
    }
}

public struct Module: Sendable, Equatable {
    public var file: String
    /// The package path without the leading `data`, as names: `package a.b` is `["a", "b"]`.
    public var package: [String]
    public var imports: [Import]
    public var rules: [Rule]
    /// `# METADATA` blocks before the `package` line (scope `package` or `subpackages`).
    public var packageAnnotations: [Value] = []

    public init(file: String, package: [String], imports: [Import], rules: [Rule]) {
        self.file = file
        self.package = package
        self.imports = imports
        self.rules = rules
    }
}
