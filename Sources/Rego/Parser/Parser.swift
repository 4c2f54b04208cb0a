/// A recursive-descent parser for Rego v1 (`rego.v1` syntax). Builds the AST with locations;
/// nesting depth and source size are bounded, and every error names file, line, column and the line.
public struct Parser {
    var tokens: [Token]
    var position = 0
    let file: String
    let sourceBytes: [UInt8]
    let limits: Limits
    var depth = 0
    /// Inside `(…)`, `[…]` or `{…}` of a term, line breaks do not end a literal.
    var bracketDepth = 0
    /// Off while parsing the head of a comprehension, where `|` separates head and body.
    var allowBar = true
    /// Added to token positions (template expressions are parsed from a slice of the source).
    var lineOffset = 0
    var columnOffset = 0
    /// OPA's experimental keywords this module imports (`import future.keywords.and`, `.or`, `.not`,
    /// or `future.keywords` for all): `and`, `or` and operand bodies `{ … }` / `not { … }`.
    var logicalKeywords: Set<String> = []

    init(tokens: [Token], file: String, source: String, limits: Limits) {
        self.tokens = tokens
        self.file = file
        self.sourceBytes = Array(source.utf8)
        self.limits = limits
    }

    // MARK: Entry points

    public static func parseModule(_ source: String, file: String = "policy.rego", limits: Limits = .default) throws(RegoError) -> Module {
        var parser = Parser(tokens: try Lexer.tokenize(source, file: file, limits: limits), file: file, source: source, limits: limits)
        var module = try parser.module()
        if source.contains("METADATA") { try Annotations.attach(to: &module, source: source) }
        return module
    }

    /// A query such as `data.p.allow == true; x := 1`.
    public static func parseQuery(_ source: String, file: String = "query", limits: Limits = .default) throws(RegoError) -> Body {
        var parser = Parser(tokens: try Lexer.tokenize(source, file: file, limits: limits), file: file, source: source, limits: limits)
        var body: Body = []
        repeat {
            if parser.accept(.semicolon) { continue }
            body.append(try parser.literal())
            guard parser.peek.kind == .endOfFile || parser.peek.afterNewline || parser.check(.semicolon) else {
                throw parser.unexpected("expected end of query")
            }
        } while parser.peek.kind != .endOfFile
        guard !body.isEmpty else { throw parser.error("empty query") }
        return body
    }

    // MARK: Module

    mutating func module() throws(RegoError) -> Module {
        guard acceptKeyword(.package) else { throw unexpected("expected 'package'") }
        let packagePath = try ruleRef()
        var names: [String] = []
        for (index, step) in packagePath.enumerated() {
            switch step.kind {
            case .variable(let name) where index == 0: names.append(name)
            case .string(let name) where index > 0: names.append(name)
            default: throw error("package path must be names, such as 'package a.b'", at: step.location)
            }
        }
        if names.first == "data" { names.removeFirst() }
        guard !names.isEmpty else { throw error("package path must not be only 'data'", at: packagePath[0].location) }
        var imports: [Import] = []
        while checkKeyword(.import) && keywordUsedAsName() == nil {
            let location = here()
            advance()
            let path = try ruleRef()
            var alias: String?
            if acceptKeyword(.as) {
                guard case .identifier(let name) = peek.kind else { throw unexpected("expected an alias name after 'as'") }
                advance()
                alias = name
            }
            imports.append(Import(path: path, alias: alias, location: location))
            if let name = Term.name(ofOperator: path), name.hasPrefix("future.keywords") {
                let rest = name.dropFirst("future.keywords".count)
                if rest.isEmpty { logicalKeywords.formUnion(["and", "or", "not"]) }
                if ["and", "or", "not"].contains(String(rest.dropFirst())) { logicalKeywords.insert(String(rest.dropFirst())) }
            }
        }
        var rules: [Rule] = []
        while peek.kind != .endOfFile {
            if checkKeyword(.import) && keywordUsedAsName() == nil { throw unexpected("imports must come before rules") }
            if checkKeyword(.package) && keywordUsedAsName() == nil { throw unexpected("a module has one 'package'") }
            rules.append(try rule())
        }
        return Module(file: file, package: names, imports: imports, rules: rules)
    }

    // MARK: Rules

    mutating func rule() throws(RegoError) -> Rule {
        let location = here()
        let isDefault = keywordUsedAsName() == nil && acceptKeyword(.default)
        let path = try ruleRef()
        var kind = Rule.Kind.complete
        var arguments: [Term] = []
        var key: Term?
        var value: Term?
        var assigns = false
        if check(.leftParen) && !peek.afterNewline {
            advance()
            kind = .function
            bracketDepth += 1
            while !check(.rightParen) {
                arguments.append(try term())
                guard accept(.comma) else { break }
            }
            bracketDepth -= 1
            try expect(.rightParen, "expected ')' after function arguments")
        } else if acceptKeyword(.contains) {
            kind = .partialSet
            key = try term()
        }
        if check(.assign) || check(.unify) {
            guard kind != .partialSet else { throw unexpected("a 'contains' rule has no value") }
            assigns = check(.assign)
            advance()
            value = try term()
        }
        if isDefault {
            guard kind != .partialSet else { throw error("default rules cannot be 'contains' rules", at: location) }
            guard value != nil else { throw error("default rule must have a value: 'default \(describe(path)) := …'", at: location) }
            if (checkKeyword(.if) && keywordUsedAsName() == nil) || (check(.leftBrace) && !peek.afterNewline) {
                throw unexpected("default rules cannot have a body")
            }
            return Rule(kind: kind, isDefault: true, path: path, arguments: arguments, value: value, assigns: assigns, body: [], location: location)
        }
        let body = try ruleBody(required: false)
        if kind == .complete && value == nil && body.isEmpty {
            // A bare name is no rule in rego.v1 (as in OPA): `p` alone, or `p.q` / `p[x]` without `contains`.
            throw error(
                path.count == 1 ? "var cannot be used for rule name" : "`contains` keyword is required for partial set rules",
                at: location)
        }
        var elses: [Rule.Else] = []
        while checkKeyword(.else) && keywordUsedAsName() == nil {
            let elseLocation = here()
            advance()
            guard kind != .partialSet else { throw error("'else' cannot follow a 'contains' rule", at: elseLocation) }
            var elseValue: Term?
            if check(.assign) || check(.unify) {
                advance()
                elseValue = try term()
            }
            let elseBody = try ruleBody(required: false)
            elses.append(Rule.Else(value: elseValue, body: elseBody, location: elseLocation))
        }
        if !elses.isEmpty && body.isEmpty { throw error("'else' needs a rule with a body", at: elses[0].location) }
        return Rule(
            kind: kind, isDefault: false, path: path, arguments: arguments, key: key, value: value, assigns: assigns, body: body,
            elses: elses, location: location
        )
    }

    /// `if { … }`, `if literal`, or nothing (a constant rule). Rego v1 requires `if` before a body.
    mutating func ruleBody(required: Bool) throws(RegoError) -> Body {
        if keywordUsedAsName() == nil && acceptKeyword(.if) {
            guard check(.leftBrace), position + 1 < tokens.count, tokens[position + 1].kind != .punctuation(.rightBrace) else {
                return check(.leftBrace) ? try braceBody() : [try literal()]
            }
            // `if { … }` is a body; when its content is no body, the braces are a term of a single
            // literal (`if {x: i | x := xs[i]}`, an object comprehension), as OPA reads it.
            let start = self
            do {
                return try braceBody()
            } catch let bodyError {
                let afterBody = self
                self = start
                do {
                    return [try literal()]
                } catch {
                    self = afterBody
                    throw bodyError
                }
            }
        }
        if check(.leftBrace) && !peek.afterNewline {
            throw unexpected("'if' is required before a rule body (rego.v1)")
        }
        if required { throw unexpected("expected a rule body") }
        return []
    }

    /// `{ literal (; | newline) literal … }`
    mutating func braceBody() throws(RegoError) -> Body {
        let open = here()
        try expect(.leftBrace, "expected '{'")
        try enter()
        defer { depth -= 1 }
        let body = try literals(
            until: .rightBrace, unclosed: "unclosed '{' of a body", unclosedAt: open,
            separator: "expected a new line, ';' or '}' after a literal"
        )
        guard !body.isEmpty else { throw error("found empty body", at: open) }
        return body
    }

    /// Literals separated by `;` or line breaks, up to `closing` (consumed). Line breaks separate
    /// literals again inside, whatever brackets surround the body.
    /// At end of input, `unclosed` is reported at `unclosedAt`, or as an unexpected end of file without one.
    mutating func literals(until closing: Token.Punctuation, unclosed: String, unclosedAt: Location? = nil, separator: String)
        throws(RegoError) -> Body
    {
        let savedBrackets = bracketDepth
        let savedBar = allowBar
        bracketDepth = 0
        allowBar = true
        defer {
            bracketDepth = savedBrackets
            allowBar = savedBar
        }
        var body: Body = []
        while true {
            while accept(.semicolon) {}
            if accept(closing) { return body }
            if peek.kind == .endOfFile { throw unclosedAt.map { error(unclosed, at: $0) } ?? unexpected(unclosed) }
            body.append(try literal())
            if check(closing) || check(.semicolon) || peek.afterNewline { continue }
            throw unexpected(separator)
        }
    }

    /// A rule's name: `p`, `a.b.c`, `a.b[x]`, `a["b"].c`.
    mutating func ruleRef() throws(RegoError) -> [Term] {
        let location = here()
        let name: String
        if case .identifier(let identifier) = peek.kind {
            name = identifier
        } else if let keywordName = keywordUsedAsName() {
            name = keywordName
        } else {
            throw unexpected("expected a name")
        }
        advance()
        var path = [Term(.variable(name), at: location)]
        while true {
            if check(.dot) && !peek.afterNewline {
                advance()
                let stepLocation = here()
                path.append(Term(.string(try nameAfterDot()), at: stepLocation))
            } else if check(.leftBracket) && !peek.afterNewline {
                advance()
                bracketDepth += 1
                path.append(try term())
                bracketDepth -= 1
                try expect(.rightBracket, "expected ']'")
            } else {
                return path
            }
        }
    }

    // MARK: Literals

    mutating func literal() throws(RegoError) -> Literal {
        let location = here()
        try enter()
        defer { depth -= 1 }
        var result: Literal
        if keywordUsedAsName() != nil {
            result = Literal(.expression(try expression()), at: location)
        } else if acceptKeyword(.some) {
            result = try someDeclaration(at: location)
        } else if acceptKeyword(.every) {
            result = try everyExpression(at: location)
        } else if logicalKeywords.isEmpty {
            let negated = keywordUsedAsName() == nil && acceptKeyword(.not)
            let term = try expression()
            result = Literal(.expression(term), negated: negated, at: location)
        } else {
            result = try logicalOr(at: location)
        }
        // `with` cannot start a literal, so it may continue the previous line.
        while checkKeyword(.with) && keywordUsedAsName() == nil {
            let withLocation = here()
            advance()
            let target = try relation()
            guard acceptKeyword(.as) else { throw unexpected("expected 'as' in 'with … as …'") }
            let value = try relation()
            result.with.append(Literal.With(target: target, value: value, location: withLocation))
        }
        return result
    }

    // MARK: Logical operators (experimental keywords)

    /// `a or b or …`: `or` binds loosest, then `and`, then everything else.
    mutating func logicalOr(at location: Location) throws(RegoError) -> Literal {
        var operands = [try logicalAnd(at: location)]
        while checkLogical("or") {
            advance()
            operands.append(try logicalAnd(at: here()))
        }
        return operands.count == 1 ? operands[0] : Literal(.logical(.or, operands.map { [$0] }), at: location)
    }

    mutating func logicalAnd(at location: Location) throws(RegoError) -> Literal {
        var operands = [try logicalOperand(at: location)]
        while checkLogical("and") {
            advance()
            operands.append(try logicalOperand(at: here()))
        }
        return operands.count == 1 ? operands[0] : Literal(.logical(.and, operands.map { [$0] }), at: location)
    }

    /// `[not] { body }` or `[not] expression`. A `{` may open a body or a set or object: it is a
    /// body when it parses as one and an operator or `not` makes it an operand, or when it does
    /// not parse as a term.
    mutating func logicalOperand(at location: Location) throws(RegoError) -> Literal {
        let negated = keywordUsedAsName() == nil && acceptKeyword(.not)
        guard check(.leftBrace) else { return Literal(.expression(try expression()), negated: negated, at: location) }
        let start = self
        var asBody: (Parser, Body)?
        do {
            let body = try braceBody()
            asBody = (self, body)
            if negated || checkLogical("and") || checkLogical("or") {
                return Literal(.logical(.group, [body]), negated: negated, at: location)
            }
        } catch {}
        self = start
        do {
            return Literal(.expression(try expression()), negated: negated, at: location)
        } catch {
            guard let (parser, body) = asBody else { throw error }
            self = parser
            return Literal(.logical(.group, [body]), negated: negated, at: location)
        }
    }

    func checkLogical(_ word: String) -> Bool {
        guard case .identifier(let name) = peek.kind else { return false }
        return name == word && logicalKeywords.contains(word)
    }

    mutating func someDeclaration(at location: Location) throws(RegoError) -> Literal {
        var terms = [try relation()]
        while accept(.comma) { terms.append(try relation()) }
        if acceptKeyword(.in) {
            guard terms.count <= 2 else { throw error("'some' takes at most a key and a value before 'in'", at: location) }
            let collection = try relation()
            return Literal(.someIn(key: terms.count == 2 ? terms[0] : nil, value: terms[terms.count - 1], collection: collection), at: location)
        }
        for term in terms {
            guard case .variable = term.kind else { throw error("'some' declares variables: expected a name", at: term.location) }
        }
        return Literal(.someVariables(terms), at: location)
    }

    mutating func everyExpression(at location: Location) throws(RegoError) -> Literal {
        var names = [try relation()]
        if accept(.comma) { names.append(try relation()) }
        for name in names {
            guard case .variable = name.kind else { throw error("'every' binds variables: expected a name", at: name.location) }
        }
        guard acceptKeyword(.in) else { throw unexpected("expected 'in' after the variables of 'every'") }
        let domain = try relation()
        let body = try braceBody()
        return Literal(.every(key: names.count == 2 ? names[0] : nil, value: names[names.count - 1], domain: domain, body: body), at: location)
    }

    // MARK: Helpers

    var peek: Token { tokens[position] }

    /// A keyword written directly before `.`, `(` or `[` (`contains(…)`, `default.foo`) is a name, as in OPA.
    func keywordUsedAsName() -> String? {
        guard case .keyword(let keyword) = peek.kind, position + 1 < tokens.count else { return nil }
        let next = tokens[position + 1]
        guard next.line == peek.line, next.column == peek.column + keyword.rawValue.utf8.count else { return nil }
        switch next.kind {
        case .punctuation(.dot), .punctuation(.leftParen), .punctuation(.leftBracket): return keyword.rawValue
        default: return nil
        }
    }

    func here() -> Location { location(of: peek) }

    func location(of token: Token) -> Location {
        Location(file: file, line: token.line + lineOffset, column: token.line == 1 ? token.column + columnOffset : token.column)
    }

    mutating func advance() {
        if position < tokens.count - 1 { position += 1 }
    }

    func check(_ punctuation: Token.Punctuation) -> Bool { peek.kind == .punctuation(punctuation) }

    func checkKeyword(_ keyword: Token.Keyword) -> Bool { peek.kind == .keyword(keyword) }

    mutating func accept(_ punctuation: Token.Punctuation) -> Bool {
        guard check(punctuation) else { return false }
        advance()
        return true
    }

    mutating func acceptKeyword(_ keyword: Token.Keyword) -> Bool {
        guard checkKeyword(keyword) else { return false }
        advance()
        return true
    }

    mutating func expect(_ punctuation: Token.Punctuation, _ message: String) throws(RegoError) {
        guard accept(punctuation) else { throw unexpected(message) }
    }

    mutating func enter() throws(RegoError) {
        depth += 1
        guard depth <= limits.maxNesting else { throw error("nesting deeper than \(limits.maxNesting) levels") }
    }

    /// A name after `.`: identifiers, and keywords too (`input.default`).
    mutating func nameAfterDot() throws(RegoError) -> String {
        switch peek.kind {
        case .identifier(let name):
            advance()
            return name
        case .keyword(let keyword):
            advance()
            return keyword.rawValue
        default:
            throw unexpected("expected a name after '.'")
        }
    }

    func error(_ message: String, at location: Location? = nil) -> RegoError {
        let location = location ?? here()
        return RegoError(.parseError, message, location: location, text: Lexer.lineText(sourceBytes, line: location.line - lineOffset))
    }

    func unexpected(_ expectation: String) -> RegoError {
        error("unexpected \(Parser.describe(peek.kind)): \(expectation)")
    }

    static func describe(_ kind: Token.Kind) -> String {
        switch kind {
        case .identifier(let name): "identifier '\(name)'"
        case .keyword(let keyword): "keyword '\(keyword.rawValue)'"
        case .number(let text): "number \(text)"
        case .string: "string"
        case .template: "template string"
        case .punctuation(let punctuation): "'\(punctuation.rawValue)'"
        case .endOfFile: "end of file"
        }
    }

    func describe(_ path: [Term]) -> String {
        Term.name(ofOperator: path) ?? "rule"
    }
}
