/// A position in policy text: file, 1-based line and column, and the line's text for messages.
public struct Location: Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(file):\(line):\(column)" }
}

/// An error from parsing, compiling or evaluating a policy, in OPA's terms: a stable code
/// (`rego_parse_error`, `rego_compile_error`, `eval_conflict_error`, …), a message, and where.
public struct RegoError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        public let name: String
        init(_ name: String) { self.name = name }
        public var description: String { name }

        public static let parseError = Code("rego_parse_error")
        public static let compileError = Code("rego_compile_error")
        public static let unsafeVariable = Code("rego_unsafe_var_error")
        public static let recursion = Code("rego_recursion_error")
        public static let typeError = Code("rego_type_error")
        public static let conflict = Code("eval_conflict_error")
        public static let evalTypeError = Code("eval_type_error")
        public static let builtinError = Code("eval_builtin_error")
        public static let limitExceeded = Code("eval_limit_error")
        /// Internal: the caller's stack ran short; the evaluation is retried on a large stack.
        static let stackExhausted = Code("warden_stack_exhausted")
    }

    public let code: Code
    public let message: String
    public let location: Location?
    /// The offending source line, when known.
    public let text: String?

    public init(_ code: Code, _ message: String, location: Location? = nil, text: String? = nil) {
        self.code = code
        self.message = message
        self.location = location
        self.text = text
    }

    /// `file:line:col: code: message` followed by the offending line, as OPA prints it.
    public var description: String {
        var out = ""
        if let location { out += "\(location): " }
        out += "\(code.name): \(message)"
        if let text, !text.isEmpty { out += "\n\t\(text)" }
        return out
    }
}

/// Bounds that keep untrusted policy text from exhausting the process.
public struct Limits: Sendable, Equatable {
    /// Largest module source accepted, in bytes.
    public var maxSourceBytes: Int
    /// Deepest nesting of terms, bodies and comprehensions the parser accepts.
    public var maxNesting: Int

    /// Most evaluation steps (literals tried, elements iterated) one query may take.
    public var maxEvaluationSteps: Int
    /// Deepest nesting of rule and function calls during evaluation (at most 1,000, what the
    /// evaluation thread's stack is sized for).
    public var maxEvaluationDepth: Int

    public init(maxSourceBytes: Int = 4 << 20, maxNesting: Int = 200, maxEvaluationSteps: Int = 10_000_000, maxEvaluationDepth: Int = 1_000) {
        self.maxSourceBytes = maxSourceBytes
        self.maxNesting = maxNesting
        self.maxEvaluationSteps = maxEvaluationSteps
        self.maxEvaluationDepth = maxEvaluationDepth
    }

    public static let `default` = Limits()
}
