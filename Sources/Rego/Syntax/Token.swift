/// A lexical token of Rego.
public struct Token: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case identifier(String)
        case keyword(Keyword)
        case number(String)
        /// A string's value after escapes; `raw` for backtick strings.
        case string(String, raw: Bool)
        /// `$"…{expr}…"`: literal text pieces and the source of each embedded expression.
        case template([TemplatePiece])
        case punctuation(Punctuation)
        case endOfFile
    }

    public enum TemplatePiece: Sendable, Equatable {
        case text(String)
        /// An embedded expression's source and where it starts.
        case expression(String, line: Int, column: Int)
    }

    public enum Keyword: String, Sendable, CaseIterable {
        case package, `import`, `as`, `default`, `else`, `not`, `with`, some, every, `in`, contains, `if`
        case `true`, `false`, null
    }

    public enum Punctuation: String, Sendable, CaseIterable {
        case leftBrace = "{"
        case rightBrace = "}"
        case leftBracket = "["
        case rightBracket = "]"
        case leftParen = "("
        case rightParen = ")"
        case dot = "."
        case comma = ","
        case semicolon = ";"
        case colon = ":"
        case assign = ":="
        case unify = "="
        case equal = "=="
        case notEqual = "!="
        case less = "<"
        case lessOrEqual = "<="
        case greater = ">"
        case greaterOrEqual = ">="
        case plus = "+"
        case minus = "-"
        case star = "*"
        case slash = "/"
        case percent = "%"
        case ampersand = "&"
        case bar = "|"
    }

    public var kind: Kind
    public var line: Int
    public var column: Int
    /// Whether a line break separates this token from the previous one (ends a body literal).
    public var afterNewline: Bool

    public init(kind: Kind, line: Int, column: Int, afterNewline: Bool) {
        self.kind = kind
        self.line = line
        self.column = column
        self.afterNewline = afterNewline
    }
}
