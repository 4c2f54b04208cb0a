import Foundation

/// `warden policy fmt`: one canonical layout for a module, kept stable by printing the parsed module
/// rather than editing text. Tabs indent; one blank line separates package, imports and rules; a
/// body of one short literal stays on the rule's line, longer bodies go in braces; infix operators
/// get parentheses only where precedence needs them; strings are printed quoted. Comments are kept:
/// each is printed before the item that follows it, or after its item when it shares the item's
/// line. Formatting formatted text gives the same text.
public enum Formatter {
    public static func format(_ source: String, file: String = "policy.rego", limits: Limits = .default) throws(RegoError) -> String {
        let module = try Parser.parseModule(source, file: file, limits: limits)
        var lexer = Lexer(source: source, file: file)
        let packageLine = try lexer.next().line
        while try lexer.next().kind != .endOfFile {}
        var printer = Printer(comments: lexer.comments)
        printer.module(module, packageLine: packageLine)
        return printer.finish()
    }
}

struct Printer {
    var comments: [Lexer.Comment]
    var lines: [String] = []
    var indent = 0
    /// Index of the next comment not yet printed.
    var nextComment = 0

    init(comments: [Lexer.Comment]) {
        self.comments = comments
    }

    mutating func finish() -> String {
        flushComments(before: Int.max)
        while lines.last == "" { lines.removeLast() }
        return lines.joined(separator: "\n") + "\n"
    }

    mutating func emit(_ text: String) {
        lines.append(String(repeating: "\t", count: indent) + text)
    }

    /// Prints the comments that start before `line` on lines of their own.
    mutating func flushComments(before line: Int) {
        while nextComment < comments.count, comments[nextComment].line < line {
            emit("#" + comments[nextComment].text)
            nextComment += 1
        }
    }

    /// Appends the comments on `line` after column `column` to the last printed line.
    mutating func trailingComments(line: Int, after column: Int) {
        while nextComment < comments.count, comments[nextComment].line == line, comments[nextComment].column > column {
            lines[lines.count - 1] += " #" + comments[nextComment].text
            nextComment += 1
        }
    }

    // MARK: Module

    mutating func module(_ module: Module, packageLine: Int) {
        flushComments(before: packageLine)
        emit("package " + module.package.map(Printer.refStep).joined().dropFirst())
        trailingComments(line: packageLine, after: 0)
        if !module.imports.isEmpty {
            emit("")
            for item in module.imports {
                flushComments(before: item.location.line)
                var text = "import " + ref(item.path)
                if let alias = item.alias { text += " as \(alias)" }
                emit(text)
                trailingComments(line: item.location.line, after: item.location.column)
            }
        }
        for rule in module.rules {
            emit("")
            flushComments(before: rule.location.line)
            self.rule(rule)
        }
    }

    /// `.name` for an identifier-like name, `["…"]` otherwise.
    static func refStep(_ name: String) -> String {
        isIdentifier(name) ? "." + name : "[" + quote(name) + "]"
    }

    static func isIdentifier(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic) else { return false }
        return name.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) }
            && !Printer.keywords.contains(name)
    }

    static let keywords: Set<String> = [
        "package", "import", "as", "default", "if", "else", "not", "some", "every", "in", "contains", "with", "true", "false", "null",
    ]

    static func quote(_ text: String) -> String { Value.string(text).jsonText }

    // MARK: Rules

    mutating func rule(_ rule: Rule) {
        var head = rule.isDefault ? "default " : ""
        head += ruleRef(rule.path)
        if rule.kind == .function { head += "(" + rule.arguments.map { term($0) }.joined(separator: ", ") + ")" }
        if rule.kind == .partialSet, let key = rule.key { head += " contains " + term(key) }
        if let value = rule.value {
            head += (rule.assigns ? " := " : " = ") + term(value)
        } else if rule.kind != .partialSet, rule.key != nil, let key = rule.key {
            head += "[" + term(key) + "]"
        }
        bodyAfter(head, rule.body, line: rule.location.line)
        for clause in rule.elses {
            var text = "else"
            if let value = clause.value { text += " := " + term(value) }
            if lines.last?.hasSuffix("}") == true, !clause.body.isEmpty || clause.value != nil {
                lines[lines.count - 1] += " " + text
                bodyAfter(nil, clause.body, line: clause.location.line)
            } else {
                bodyAfter(text, clause.body, line: clause.location.line)
            }
        }
    }

    /// Prints `head if literal`, `head if { … }` or `head` (no body); with `head` nil the `if` joins
    /// the previous line.
    mutating func bodyAfter(_ head: String?, _ body: Body, line: Int) {
        func start(_ text: String) {
            if let head {
                emit(head + text)
            } else {
                lines[lines.count - 1] += text
            }
        }
        guard !body.isEmpty else {
            start("")
            trailingComments(line: line, after: 0)
            return
        }
        if body.count == 1, case let single = literal(body[0]), !single.contains("\n"),
            (head?.count ?? 0) + single.count < 100, body[0].location.line == line
        {
            start(" if " + single)
            trailingComments(line: line, after: 0)
            return
        }
        start(" if {")
        trailingComments(line: line, after: Int.max - 1)
        block(body)
        emit("}")
    }

    /// The literals of a body, one per line, indented.
    mutating func block(_ body: Body) {
        indent += 1
        for item in body {
            flushComments(before: item.location.line)
            let text = literal(item)
            for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                if index == 0 { emit(String(line)) } else { lines.append(String(line)) }
            }
            trailingComments(line: item.location.line, after: item.location.column)
        }
        if let last = body.last { flushComments(before: endLine(after: last)) }
        indent -= 1
    }

    /// Comments up to the closing brace belong inside the block: those before the next item that
    /// starts after this block. Without positions for closing braces, comments on lines after the
    /// last literal and before the next rule stay inside only when they are indented deeper than column 1.
    func endLine(after literal: Literal) -> Int {
        var line = literal.location.line + 1
        var index = nextComment
        while index < comments.count, comments[index].column > 1 {
            line = comments[index].line + 1
            index += 1
        }
        return line
    }

    // MARK: Literals

    func literal(_ literal: Literal) -> String {
        var text = literal.negated ? "not " : ""
        switch literal.kind {
        case .expression(let expression): text += term(expression, level: 0)
        case .someVariables(let names): text += "some " + names.map { term($0) }.joined(separator: ", ")
        case .someIn(let key, let value, let collection):
            text += "some " + (key.map { term($0) + ", " } ?? "") + term(value) + " in " + term(collection, level: 2)
        case .every(let key, let value, let domain, let body):
            text += "every " + (key.map { term($0) + ", " } ?? "") + term(value) + " in " + term(domain, level: 2) + " {"
            let pad = String(repeating: "\t", count: indent + 1)
            for inner in body { text += "\n" + pad + self.literal(inner).replacingOccurrences(of: "\n", with: "\n\t") }
            text += "\n" + String(repeating: "\t", count: indent) + "}"
        case .logical(.group, let operands):
            text += "{ " + operands[0].map { self.literal($0) }.joined(separator: "; ") + " }"
        case .logical(let op, let operands):
            // Operands are single literals from the parser; an `or` inside an `and` is a `{ … }` group.
            text += operands.map { $0.map { self.literal($0) }.joined(separator: "; ") }.joined(separator: " \(op.rawValue) ")
        }
        for modifier in literal.with { text += " with " + term(modifier.target) + " as " + term(modifier.value, level: 2) }
        return text
    }

    // MARK: Terms

    /// Infix operators by call name: symbol and precedence (higher binds tighter).
    static let infix: [String: (symbol: String, level: Int)] = [
        "assign": (":=", 0), "eq": ("=", 0), "internal.member_2": ("in", 1),
        "equal": ("==", 2), "neq": ("!=", 2), "lt": ("<", 2), "lte": ("<=", 2), "gt": (">", 2), "gte": (">=", 2),
        "or": ("|", 3), "and": ("&", 4), "plus": ("+", 5), "minus": ("-", 5), "mul": ("*", 6), "div": ("/", 6), "rem": ("%", 6),
    ]

    func ruleRef(_ path: [Term]) -> String {
        guard case .variable(let head) = path.first?.kind else { return ref(path) }
        return head + path.dropFirst().map { refStepText($0) }.joined()
    }

    func ref(_ steps: [Term]) -> String {
        guard let head = steps.first else { return "" }
        var text: String
        if case .variable(let name) = head.kind { text = name } else { text = term(head, level: 7) }
        for step in steps.dropFirst() { text += refStepText(step) }
        return text
    }

    func refStepText(_ step: Term) -> String {
        if case .string(let name) = step.kind { return Printer.refStep(name) }
        return "[" + term(step) + "]"
    }

    /// A term printed where the surrounding operator has precedence `level`.
    func term(_ term: Term, level: Int = 1) -> String {
        switch term.kind {
        case .null: return "null"
        case .boolean(let flag): return flag ? "true" : "false"
        case .number(let text): return text
        case .string(let text): return Printer.quote(text)
        case .variable(let name): return name
        case .ref(let steps): return ref(steps)
        case .array(let items): return "[" + items.map { self.term($0) }.joined(separator: ", ") + "]"
        case .set(let items): return items.isEmpty ? "set()" : "{" + items.map { self.term($0) }.joined(separator: ", ") + "}"
        case .object(let items):
            return "{" + items.map { self.term($0.key) + ": " + self.term($0.value) }.joined(separator: ", ") + "}"
        case .arrayComprehension(let head, let body): return "[" + self.term(head) + " | " + inline(body) + "]"
        case .setComprehension(let head, let body): return "{" + self.term(head) + " | " + inline(body) + "}"
        case .objectComprehension(let key, let value, let body):
            return "{" + self.term(key) + ": " + self.term(value) + " | " + inline(body) + "}"
        case .template(let parts):
            var text = "$\""
            for part in parts {
                switch part {
                case .text(let literal):
                    text += String(Printer.quote(literal).dropFirst().dropLast()).replacingOccurrences(of: "{", with: "\\{")
                case .expression(let inner): text += "{" + self.term(inner) + "}"
                case .modified(let inner, let modifiers):
                    text += "{" + self.term(inner)
                    for modifier in modifiers { text += " with " + self.term(modifier.target) + " as " + self.term(modifier.value, level: 2) }
                    text += "}"
                }
            }
            return text + "\""
        case .call(let op, let arguments):
            let name = Term.name(ofOperator: op) ?? ref(op)
            if name == "internal.member_3", arguments.count == 3 {
                let text = self.term(arguments[0], level: 2) + ", " + self.term(arguments[1], level: 2) + " in " + self.term(arguments[2], level: 2)
                return level > 1 ? "(" + text + ")" : text
            }
            if let (symbol, own) = Printer.infix[name], arguments.count == 2 {
                let text = self.term(arguments[0], level: own) + " " + symbol + " " + self.term(arguments[1], level: own + 1)
                return own < level ? "(" + text + ")" : text
            }
            return ref(op) + "(" + arguments.map { self.term($0) }.joined(separator: ", ") + ")"
        }
    }

    func inline(_ body: Body) -> String {
        body.map { literal($0) }.joined(separator: "; ")
    }
}
