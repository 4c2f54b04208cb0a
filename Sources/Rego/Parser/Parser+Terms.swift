extension Parser {
    // MARK: Expressions, lowest precedence first

    /// A literal's expression: `x := t`, `x = t`, `k, v in xs`, or a term.
    mutating func expression() throws(RegoError) -> Term {
        let location = here()
        var lhs = try membership()
        if check(.comma) && bracketDepth == 0 {
            // `k, v in xs`
            advance()
            let value = try relation()
            guard acceptKeyword(.in) else { throw unexpected("expected 'in' after 'key, value'") }
            let collection = try relation()
            lhs = call("internal.member_3", [lhs, value, collection], at: location)
        }
        if (check(.assign) || check(.unify)) && !breaksLine() {
            let name = check(.assign) ? "assign" : "eq"
            advance()
            let rhs = try membership()
            return call(name, [lhs, rhs], at: location)
        }
        return lhs
    }

    /// A term in a value position: membership and everything above it.
    mutating func term() throws(RegoError) -> Term {
        try membership()
    }

    mutating func membership() throws(RegoError) -> Term {
        let location = here()
        var lhs = try relation()
        while checkKeyword(.in) && !breaksLine() {
            advance()
            let rhs = try relation()
            lhs = call("internal.member_2", [lhs, rhs], at: location)
        }
        return lhs
    }

    mutating func relation() throws(RegoError) -> Term {
        let location = here()
        var lhs = try or()
        while let name = relationName(), !breaksLine() {
            advance()
            let rhs = try or()
            lhs = call(name, [lhs, rhs], at: location)
        }
        return lhs
    }

    func relationName() -> String? {
        guard case .punctuation(let punctuation) = peek.kind else { return nil }
        switch punctuation {
        case .equal: return "equal"
        case .notEqual: return "neq"
        case .less: return "lt"
        case .lessOrEqual: return "lte"
        case .greater: return "gt"
        case .greaterOrEqual: return "gte"
        default: return nil
        }
    }

    mutating func or() throws(RegoError) -> Term {
        let location = here()
        var lhs = try and()
        while allowBar && check(.bar) && !breaksLine() {
            advance()
            lhs = call("or", [lhs, try and()], at: location)
        }
        return lhs
    }

    mutating func and() throws(RegoError) -> Term {
        let location = here()
        var lhs = try arith()
        while check(.ampersand) && !breaksLine() {
            advance()
            lhs = call("and", [lhs, try arith()], at: location)
        }
        return lhs
    }

    mutating func arith() throws(RegoError) -> Term {
        let location = here()
        var lhs = try factor()
        while (check(.plus) || check(.minus)) && !breaksLine() {
            let name = check(.plus) ? "plus" : "minus"
            advance()
            lhs = call(name, [lhs, try factor()], at: location)
        }
        return lhs
    }

    mutating func factor() throws(RegoError) -> Term {
        let location = here()
        var lhs = try unary()
        while (check(.star) || check(.slash) || check(.percent)) && !breaksLine() {
            let name = check(.star) ? "mul" : check(.slash) ? "div" : "rem"
            advance()
            lhs = call(name, [lhs, try unary()], at: location)
        }
        return lhs
    }

    /// `-3` is a negative number; `-x` is `minus(0, x)`.
    mutating func unary() throws(RegoError) -> Term {
        let location = here()
        if check(.minus) {
            advance()
            if case .number(let text) = peek.kind {
                advance()
                return try postfix(Term(.number("-" + text), at: location))
            }
            let operand = try unary()
            return call("minus", [Term(.number("0"), at: location), operand], at: location)
        }
        return try postfix(try primary())
    }

    /// Whether the next token starts a new literal (a line break outside any bracket).
    func breaksLine() -> Bool { peek.afterNewline && bracketDepth == 0 }

    func call(_ name: String, _ arguments: [Term], at location: Location) -> Term {
        let parts = name.split(separator: ".").map(String.init)
        var path = [Term(.variable(parts[0]), at: location)]
        for part in parts.dropFirst() { path.append(Term(.string(part), at: location)) }
        return Term(.call(operator: path, arguments), at: location)
    }

    // MARK: Primary terms

    mutating func primary() throws(RegoError) -> Term {
        let location = here()
        try enter()
        defer { depth -= 1 }
        if let name = keywordUsedAsName() {
            advance()
            return Term(.variable(name), at: location)
        }
        switch peek.kind {
        case .number(let text):
            advance()
            return Term(.number(text), at: location)
        case .string(let value, _):
            advance()
            return Term(.string(value), at: location)
        case .template(let pieces):
            advance()
            return try template(pieces, at: location)
        case .keyword(.true):
            advance()
            return Term(.boolean(true), at: location)
        case .keyword(.false):
            advance()
            return Term(.boolean(false), at: location)
        case .keyword(.null):
            advance()
            return Term(.null, at: location)
        case .identifier(let name):
            advance()
            return Term(.variable(name), at: location)
        case .punctuation(.leftParen):
            advance()
            bracketDepth += 1
            let savedBar = allowBar
            allowBar = true
            let inner = try membership()
            allowBar = savedBar
            bracketDepth -= 1
            try expect(.rightParen, "expected ')'")
            return inner
        case .punctuation(.leftBracket):
            advance()
            return try arrayOrComprehension(at: location)
        case .punctuation(.leftBrace):
            advance()
            return try objectSetOrComprehension(at: location)
        default:
            throw unexpected("expected a term")
        }
    }

    /// Ref steps (`.name`, `[term]`) and calls (`f(…)`) after a term.
    mutating func postfix(_ head: Term) throws(RegoError) -> Term {
        var current = head
        while !peek.afterNewline || bracketDepth > 0 {
            if check(.dot) {
                advance()
                let location = here()
                let name = try nameAfterDot()
                current = appendStep(current, Term(.string(name), at: location))
            } else if check(.leftBracket) {
                advance()
                bracketDepth += 1
                let savedBar = allowBar
                allowBar = true
                let step = try term()
                allowBar = savedBar
                bracketDepth -= 1
                try expect(.rightBracket, "expected ']'")
                current = appendStep(current, step)
            } else if check(.leftParen) {
                let path: [Term]
                switch current.kind {
                case .variable: path = [current]
                case .ref(let steps) where Term.name(ofOperator: steps) != nil: path = steps
                default: return current
                }
                advance()
                bracketDepth += 1
                let savedBar = allowBar
                allowBar = true
                var arguments: [Term] = []
                while !check(.rightParen) {
                    arguments.append(try term())
                    guard accept(.comma) else { break }
                }
                allowBar = savedBar
                bracketDepth -= 1
                try expect(.rightParen, "expected ')' after call arguments")
                current = Term(.call(operator: path, arguments), at: current.location)
            } else {
                break
            }
        }
        return current
    }

    func appendStep(_ term: Term, _ step: Term) -> Term {
        if case .ref(var steps) = term.kind {
            steps.append(step)
            return Term(.ref(steps), at: term.location)
        }
        return Term(.ref([term, step]), at: term.location)
    }

    mutating func arrayOrComprehension(at location: Location) throws(RegoError) -> Term {
        bracketDepth += 1
        defer { bracketDepth -= 1 }
        if accept(.rightBracket) { return Term(.array([]), at: location) }
        let savedBar = allowBar
        allowBar = false
        let first = try term()
        allowBar = savedBar
        if accept(.bar) {
            let body = try comprehensionBody(closing: .rightBracket)
            return Term(.arrayComprehension(first, body), at: location)
        }
        var items = [first]
        while accept(.comma) {
            if check(.rightBracket) { break }
            items.append(try term())
        }
        try expect(.rightBracket, "expected ',' or ']' in array")
        return Term(.array(items), at: location)
    }

    mutating func objectSetOrComprehension(at location: Location) throws(RegoError) -> Term {
        bracketDepth += 1
        defer { bracketDepth -= 1 }
        if accept(.rightBrace) { return Term(.object([]), at: location) }
        let savedBar = allowBar
        allowBar = false
        let first = try term()
        if accept(.colon) {
            let value = try term()
            allowBar = savedBar
            if accept(.bar) {
                let body = try comprehensionBody(closing: .rightBrace)
                return Term(.objectComprehension(key: first, value: value, body), at: location)
            }
            var items = [Term.ObjectItem(key: first, value: value)]
            while accept(.comma) {
                if check(.rightBrace) { break }
                let key = try term()
                try expect(.colon, "expected ':' after an object key")
                items.append(Term.ObjectItem(key: key, value: try term()))
            }
            try expect(.rightBrace, "expected ',' or '}' in object")
            return Term(.object(items), at: location)
        }
        allowBar = savedBar
        if accept(.bar) {
            let body = try comprehensionBody(closing: .rightBrace)
            return Term(.setComprehension(first, body), at: location)
        }
        var items = [first]
        while accept(.comma) {
            if check(.rightBrace) { break }
            items.append(try term())
        }
        try expect(.rightBrace, "expected ',' or '}' in set")
        return Term(.set(items), at: location)
    }

    /// The body of a comprehension, after `|`, up to the closing bracket.
    mutating func comprehensionBody(closing: Token.Punctuation) throws(RegoError) -> Body {
        let body = try literals(
            until: closing, unclosed: "expected '\(closing.rawValue)' to close the comprehension",
            separator: "expected a new line, ';' or '\(closing.rawValue)' in a comprehension body"
        )
        guard !body.isEmpty else { throw unexpected("a comprehension needs a body") }
        return body
    }

    mutating func template(_ pieces: [Token.TemplatePiece], at location: Location) throws(RegoError) -> Term {
        var parts: [Term.TemplatePart] = []
        for piece in pieces {
            switch piece {
            case .text(let text):
                parts.append(.text(text))
            case .expression(let source, let line, let column):
                var inner = Parser(
                    tokens: try Lexer.tokenize(source, file: file, limits: limits), file: file, source: source, limits: limits
                )
                inner.lineOffset = line - 1 + lineOffset
                inner.columnOffset = column - 1
                inner.depth = depth
                inner.bracketDepth = 1
                inner.logicalKeywords = logicalKeywords
                let term = try inner.membership()
                var modifiers: [Literal.With] = []
                while inner.checkKeyword(.with) && inner.keywordUsedAsName() == nil {
                    let withLocation = inner.here()
                    inner.advance()
                    let target = try inner.relation()
                    guard inner.acceptKeyword(.as) else { throw inner.unexpected("expected 'as' in 'with … as …'") }
                    modifiers.append(Literal.With(target: target, value: try inner.relation(), location: withLocation))
                }
                guard inner.peek.kind == .endOfFile else { throw inner.unexpected("expected '}' to end the template expression") }
                parts.append(modifiers.isEmpty ? .expression(term) : .modified(term, modifiers))
            }
        }
        return Term(.template(parts), at: location)
    }
}
