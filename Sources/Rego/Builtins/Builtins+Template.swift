import Foundation

/// `strings.render_template`: Go's `text/template` as OPA runs it (data numbers are `json.Number`, a
/// missing value prints `<undefined>`), with actions, pipelines, variables, `if` / `else if` / `range` /
/// `with` / `break` / `continue`, comments, trim markers and the predefined functions. `define`,
/// `template` and `block` (named templates) are refused with an error.
extension Builtins {
    static let templates: [String: Builtin] = [
        "strings.render_template": binary { template, variables in
            let source = try string(template, 1)
            guard case .object = variables else { throw BuiltinError.operand(2, "an object", variables) }
            do {
                var parser = GoTemplate.Parser(source)
                let nodes = try parser.parse()
                var renderer = GoTemplate.Renderer(root: GoTemplate.value(of: variables), definitions: parser.definitions)
                try renderer.render(nodes)
                return .string(renderer.output.replacingOccurrences(of: "<no value>", with: "<undefined>"))
            } catch let error as GoTemplate.Failure {
                throw BuiltinError.failed("template: \(error.message)")
            }
        }
    ]
}

enum GoTemplate {
    struct Failure: Error {
        var message: String
    }

    /// A value as Go's template engine sees OPA's data: numbers from the data are `json.Number` (a
    /// string type), numbers written in the template are `int` or `float64`.
    indirect enum Item: Equatable {
        case missing
        case null
        case bool(Bool)
        case string(String)
        case jsonNumber(String)
        case int(Int)
        case float(Double)
        case array([Item])
        case map([String: Item])

        var typeName: String {
            switch self {
            case .missing, .null: return "<nil>"
            case .bool: return "bool"
            case .string: return "string"
            case .jsonNumber: return "json.Number"
            case .int: return "int"
            case .float: return "float64"
            case .array: return "[]interface {}"
            case .map: return "map[string]interface {}"
            }
        }

        /// Go's notion of a non-empty value, for `if`, `with`, `and`, `or`, `not`.
        var isTrue: Bool {
            switch self {
            case .missing, .null: return false
            case .bool(let value): return value
            case .string(let text), .jsonNumber(let text): return !text.isEmpty
            case .int(let value): return value != 0
            case .float(let value): return value != 0
            case .array(let items): return !items.isEmpty
            case .map(let fields): return !fields.isEmpty
            }
        }

        /// `fmt.Sprint` of the value; `nested` inside a slice or map, where nil prints `<nil>`.
        func printed(nested: Bool = false) -> String {
            switch self {
            case .missing: return nested ? "<nil>" : "<no value>"
            case .null: return nested ? "<nil>" : "<no value>"
            case .bool(let value): return value ? "true" : "false"
            case .string(let text), .jsonNumber(let text): return text
            case .int(let value): return String(value)
            case .float(let value): return GoTemplate.formatFloat(value)
            case .array(let items): return "[" + items.map { $0.printed(nested: true) }.joined(separator: " ") + "]"
            case .map(let fields):
                return "map[" + fields.keys.sorted().map { "\($0):\(fields[$0]!.printed(nested: true))" }.joined(separator: " ") + "]"
            }
        }
    }

    static func value(of value: Value) -> Item {
        switch value {
        case .null: return .null
        case .bool(let flag): return .bool(flag)
        case .number(let number): return .jsonNumber(number.description)
        case .string(let text): return .string(text)
        case .array(let items): return .array(items.map(GoTemplate.value(of:)))
        case .set(let items): return .array(items.sorted().map(GoTemplate.value(of:)))
        case .object(let fields):
            var map: [String: Item] = [:]
            for (key, item) in fields {
                if case .string(let name) = key { map[name] = GoTemplate.value(of: item) } else { map[key.jsonText] = GoTemplate.value(of: item) }
            }
            return .map(map)
        }
    }

    /// Go's `%v` for a float64: the shortest text that reads back, with Go's exponent form.
    static func formatFloat(_ value: Double) -> String {
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value.isNaN { return "NaN" }
        let exponent = value == 0 ? 0 : Int(floor(log10(abs(value))))
        if exponent < -4 || exponent >= 21 {
            var text = String(format: "%g", value)
            let shortest = "\(value)"
            if let mantissa = shortest.split(separator: "e").first { text = String(mantissa) + "e" + String(format: "%+03d", exponent) }
            return text
        }
        let text = "\(value)"
        return text.hasSuffix(".0") ? String(text.dropLast(2)) : text
    }

    // MARK: Syntax

    struct Pipe {
        var declarations: [String] = []
        var assigns = false
        var commands: [[Operand]] = []
        var position: Int
        var text: String
        /// `line:column` of the pipeline, for execution errors.
        var location = ""
    }

    indirect enum Operand {
        case dot
        case variable(String)
        case field(Operand?, [String])
        case literal(Item)
        case function(String)
        case nested(Pipe)
    }

    indirect enum Node {
        case text(String)
        case action(Pipe)
        case ifNode(Pipe, [Node], [Node]?)
        case range(Pipe, [Node], [Node]?)
        case with(Pipe, [Node], [Node]?)
        case breakNode
        case continueNode
        /// `{{template "name" pipeline}}`
        case call(String, Pipe?)
    }

    static let functions: Set<String> = [
        "and", "or", "not", "len", "index", "slice", "print", "printf", "println", "eq", "ne", "lt", "le", "gt", "ge", "html", "js", "urlquery",
    ]

    struct Parser {
        let source: [UInt8]
        var position = 0
        var rangeDepth = 0
        /// The action being read, for error positions.
        var actionStart = 0
        /// Templates named by `{{define}}` and `{{block}}`.
        var definitions: [String: [Node]] = [:]

        init(_ text: String) { source = Array(text.utf8) }

        func line(at offset: Int) -> Int { source[..<min(offset, source.count)].filter { $0 == UInt8(ascii: "\n") }.count + 1 }

        func column(at offset: Int) -> Int {
            let prefix = source[..<min(offset, source.count)]
            if let newline = prefix.lastIndex(of: UInt8(ascii: "\n")) { return offset - newline - 1 }
            return offset
        }

        func failure(_ message: String, at offset: Int? = nil) -> Failure {
            Failure(message: "template:\(line(at: offset ?? actionStart)): \(message)")
        }

        mutating func parse() throws -> [Node] {
            let (nodes, end) = try parseList()
            if let end { throw failure("unexpected {{\(end)}}") }
            return nodes
        }

        /// Nodes up to `{{end}}`, `{{else …}}` or the end of input; returns which keyword stopped it.
        mutating func parseList() throws -> ([Node], String?) {
            var nodes: [Node] = []
            var pendingTrim = false
            while position < source.count {
                guard let open = find("{{", from: position) else {
                    nodes.append(.text(trimmedText(position, source.count, left: pendingTrim, right: false)))
                    position = source.count
                    break
                }
                var trimRight = false
                if open + 3 < source.count, source[open + 2] == UInt8(ascii: "-"), isSpace(source[open + 3]) { trimRight = true }
                let text = trimmedText(position, open, left: pendingTrim, right: trimRight)
                if !text.isEmpty { nodes.append(.text(text)) }
                actionStart = open
                position = open + (trimRight ? 3 : 2)
                // A comment.
                skipSpaces()
                if starts(with: "/*") {
                    guard let close = find("*/", from: position + 2) else { throw failure("unclosed comment") }
                    position = close + 2
                    skipSpaces()
                    pendingTrim = try closeAction()
                    continue
                }
                let keyword = peekWord()
                switch keyword {
                case "end":
                    position += 3
                    pendingTrim = try closeAction()
                    return (nodes, "end")
                case "else":
                    position += 4
                    return (nodes, "else")
                case "if", "range", "with":
                    position += keyword!.count
                    let pipe = try parsePipe(allowDeclaration: true, inRange: keyword == "range")
                    pendingTrim = try closeAction()
                    if keyword == "range" { rangeDepth += 1 }
                    let (body, stop) = try parseList()
                    if keyword == "range" { rangeDepth -= 1 }
                    var otherwise: [Node]?
                    if stop == "else" {
                        skipSpaces()
                        if keyword != "range", peekWord() == keyword {
                            // `{{else if …}}` / `{{else with …}}`: a nested block sharing this `{{end}}`.
                            let elsePosition = position
                            _ = elsePosition
                            position += keyword!.count
                            let inner = try parsePipe(allowDeclaration: true, inRange: false)
                            pendingTrim = try closeAction()
                            let (innerBody, innerStop) = try parseList()
                            var innerElse: [Node]?
                            if innerStop == "else" {
                                pendingTrim = try closeAction()
                                let (rest, last) = try parseList()
                                guard last == "end" else { throw failure("expected end; found \(last ?? "EOF")") }
                                innerElse = rest
                            } else if innerStop != "end" {
                                throw failure("unexpected EOF")
                            }
                            otherwise = [keyword == "if" ? .ifNode(inner, innerBody, innerElse) : .with(inner, innerBody, innerElse)]
                        } else {
                            pendingTrim = try closeAction()
                            if keyword == "range" { rangeDepth += 1 }
                            let (rest, last) = try parseList()
                            if keyword == "range" { rangeDepth -= 1 }
                            guard last == "end" else { throw failure("expected end; found \(last ?? "EOF")") }
                            otherwise = rest
                        }
                    } else if stop != "end" {
                        throw failure("unexpected EOF")
                    }
                    switch keyword {
                    case "if": nodes.append(.ifNode(pipe, body, otherwise))
                    case "range": nodes.append(.range(pipe, body, otherwise))
                    default: nodes.append(.with(pipe, body, otherwise))
                    }
                case "break", "continue":
                    guard rangeDepth > 0 else { throw failure("{{\(keyword!)}} outside {{range}}") }
                    position += keyword!.count
                    pendingTrim = try closeAction()
                    nodes.append(keyword == "break" ? .breakNode : .continueNode)
                case "define", "block", "template":
                    position += keyword!.count
                    skipSpaces()
                    guard case .literal(.string(let name)) = try parseOperand() else { throw failure("expected string for \(keyword!) name") }
                    var pipe: Pipe?
                    if keyword != "define", !atActionEnd() { pipe = try parsePipe(allowDeclaration: false, inRange: false) }
                    pendingTrim = try closeAction()
                    if keyword != "template" {
                        let (body, stop) = try parseList()
                        guard stop == "end" else { throw failure("unexpected EOF") }
                        definitions[name] = body
                    }
                    if keyword != "define" { nodes.append(.call(name, pipe)) }
                default:
                    let pipe = try parsePipe(allowDeclaration: true, inRange: false)
                    pendingTrim = try closeAction()
                    nodes.append(.action(pipe))
                }
            }
            return (nodes, nil)
        }

        func isSpace(_ byte: UInt8) -> Bool { byte == 32 || byte == 9 || byte == 10 || byte == 13 }

        func find(_ needle: String, from start: Int) -> Int? {
            let bytes = Array(needle.utf8)
            var index = start
            while index + bytes.count <= source.count {
                if Array(source[index..<index + bytes.count]) == bytes { return index }
                index += 1
            }
            return nil
        }

        func starts(with text: String) -> Bool {
            let bytes = Array(text.utf8)
            return position + bytes.count <= source.count && Array(source[position..<position + bytes.count]) == bytes
        }

        func trimmedText(_ start: Int, _ end: Int, left: Bool, right: Bool) -> String {
            var lower = start
            var upper = end
            if left { while lower < upper, isSpace(source[lower]) { lower += 1 } }
            if right { while upper > lower, isSpace(source[upper - 1]) { upper -= 1 } }
            return String(decoding: source[lower..<upper], as: UTF8.self)
        }

        mutating func skipSpaces() { while position < source.count, isSpace(source[position]) { position += 1 } }

        func peekWord() -> String? {
            var end = position
            while end < source.count, source[end] < 128, Character(UnicodeScalar(source[end])).isLetter || source[end] == UInt8(ascii: "_") {
                end += 1
            }
            guard end > position else { return nil }
            if end < source.count, Character(UnicodeScalar(source[end])).isNumber { return nil }
            return String(decoding: source[position..<end], as: UTF8.self)
        }

        /// Reads `}}` or ` -}}`; returns whether the following text is trimmed.
        mutating func closeAction() throws -> Bool {
            skipSpaces()
            if starts(with: "-}}") {
                position += 3
                return true
            }
            guard starts(with: "}}") else {
                throw failure(
                    position >= source.count
                        ? "unclosed action" : "unexpected \"\(String(decoding: source[position..<position + 1], as: UTF8.self))\" in command")
            }
            position += 2
            return false
        }

        mutating func atActionEnd() -> Bool {
            skipSpaces()
            return position >= source.count || starts(with: "}}") || starts(with: "-}}") || starts(with: ")")
        }

        mutating func parsePipe(allowDeclaration: Bool, inRange: Bool) throws -> Pipe {
            skipSpaces()
            let start = position
            var pipe = Pipe(position: start, text: "")
            // `$x :=`, `$x =`, `$i, $v :=`
            let saved = position
            var names: [String] = []
            while allowDeclaration, position < source.count, source[position] == UInt8(ascii: "$") {
                let name = readVariable()
                names.append(name)
                skipSpaces()
                if inRange, names.count == 1, position < source.count, source[position] == UInt8(ascii: ",") {
                    position += 1
                    skipSpaces()
                    continue
                }
                break
            }
            if !names.isEmpty, starts(with: ":=") {
                position += 2
                pipe.declarations = names
            } else if names.count == 1, starts(with: "="), !starts(with: "==") {
                position += 1
                pipe.declarations = names
                pipe.assigns = true
            } else {
                position = saved
            }
            while true {
                var command: [Operand] = []
                while !atActionEnd(), !starts(with: "|") {
                    command.append(try parseOperand())
                }
                guard !command.isEmpty else { throw failure(pipe.commands.isEmpty ? "missing value for command" : "missing command") }
                pipe.commands.append(command)
                if starts(with: "|") {
                    position += 1
                    continue
                }
                break
            }
            pipe.position = start
            pipe.location = "\(line(at: start)):\(column(at: start))"
            pipe.text = String(decoding: source[start..<position], as: UTF8.self).trimmingCharacters(in: .whitespaces)
            return pipe
        }

        mutating func readVariable() -> String {
            var end = position + 1
            while end < source.count, source[end] < 128,
                Character(UnicodeScalar(source[end])).isLetter || Character(UnicodeScalar(source[end])).isNumber || source[end] == UInt8(ascii: "_")
            { end += 1 }
            let name = String(decoding: source[position..<end], as: UTF8.self)
            position = end
            return name
        }

        mutating func readFields() -> [String] {
            var fields: [String] = []
            while position < source.count, source[position] == UInt8(ascii: "."), position + 1 < source.count,
                Character(UnicodeScalar(source[position + 1])).isLetter || source[position + 1] == UInt8(ascii: "_")
            {
                var end = position + 1
                while end < source.count, source[end] < 128,
                    Character(UnicodeScalar(source[end])).isLetter || Character(UnicodeScalar(source[end])).isNumber
                        || source[end] == UInt8(ascii: "_")
                { end += 1 }
                fields.append(String(decoding: source[position + 1..<end], as: UTF8.self))
                position = end
            }
            return fields
        }

        mutating func parseOperand() throws -> Operand {
            skipSpaces()
            let byte = source[position]
            switch byte {
            case UInt8(ascii: "."):
                let fields = readFields()
                if fields.isEmpty {
                    position += 1
                    return .dot
                }
                return .field(nil, fields)
            case UInt8(ascii: "$"):
                let name = readVariable()
                let fields = readFields()
                return fields.isEmpty ? .variable(name) : .field(.variable(name), fields)
            case UInt8(ascii: "("):
                position += 1
                let inner = try parsePipe(allowDeclaration: false, inRange: false)
                skipSpaces()
                guard starts(with: ")") else { throw failure("unclosed left paren") }
                position += 1
                let fields = readFields()
                return fields.isEmpty ? .nested(inner) : .field(.nested(inner), fields)
            case UInt8(ascii: "\""):
                var end = position + 1
                while end < source.count, source[end] != UInt8(ascii: "\"") {
                    if source[end] == UInt8(ascii: "\\") { end += 1 }
                    end += 1
                }
                guard end < source.count else { throw failure("unterminated quoted string") }
                let quoted = String(decoding: source[position...end], as: UTF8.self)
                position = end + 1
                guard case .string(let text)? = try? Value.parseJSON(quoted) else { throw failure("bad string \(quoted)") }
                return .literal(.string(text))
            case UInt8(ascii: "`"):
                guard let end = find("`", from: position + 1) else { throw failure("unterminated raw quoted string") }
                let text = String(decoding: source[position + 1..<end], as: UTF8.self)
                position = end + 1
                return .literal(.string(text))
            default:
                if byte == UInt8(ascii: "-") || byte == UInt8(ascii: "+") || (byte >= 48 && byte <= 57) {
                    var end = position + 1
                    while end < source.count, source[end] < 128,
                        Character(UnicodeScalar(source[end])).isNumber
                            || [UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"), UInt8(ascii: "x"), UInt8(ascii: "_")].contains(source[end])
                            || ((source[end] == UInt8(ascii: "-") || source[end] == UInt8(ascii: "+"))
                                && (source[end - 1] == UInt8(ascii: "e") || source[end - 1] == UInt8(ascii: "E")))
                    { end += 1 }
                    let text = String(decoding: source[position..<end], as: UTF8.self)
                    position = end
                    if let int = Int(text) { return .literal(.int(int)) }
                    if let double = Double(text) { return .literal(.float(double)) }
                    throw failure("bad number syntax: \"\(text)\"")
                }
                guard let word = peekWord() else {
                    throw failure("unexpected \"\(String(decoding: source[position..<position + 1], as: UTF8.self))\" in command")
                }
                position += word.count
                switch word {
                case "true": return .literal(.bool(true))
                case "false": return .literal(.bool(false))
                case "nil": return .literal(.null)
                default:
                    guard GoTemplate.functions.contains(word) else { throw failure("function \"\(word)\" not defined") }
                    return .function(word)
                }
            }
        }
    }

    // MARK: Execution

    struct Renderer {
        var output = ""
        var variables: [(String, Item)]
        let source: [UInt8]
        var steps = 0

        enum Control: Error {
            case breakLoop
            case continueLoop
        }

        let definitions: [String: [Node]]
        var callDepth = 0

        init(root: Item, definitions: [String: [Node]]) {
            variables = [("$", root)]
            source = []
            self.definitions = definitions
        }

        func failure(_ pipe: Pipe, _ message: String) -> Failure {
            Failure(message: "template:\(pipe.location): executing \"template\" at <\(pipe.text)>: \(message)")
        }

        mutating func render(_ nodes: [Node], dot: Item? = nil) throws {
            let dot = dot ?? variables[0].1
            for node in nodes {
                steps += 1
                guard steps < 1_000_000, output.utf8.count < 10_000_000 else {
                    throw Failure(message: "template output or work exceeds the limit")
                }
                switch node {
                case .text(let text): output += text
                case .action(let pipe):
                    let value = try evaluate(pipe, dot)
                    if pipe.declarations.isEmpty { output += value.printed() }
                case .ifNode(let pipe, let body, let otherwise):
                    let mark = variables.count
                    defer { variables.removeLast(variables.count - mark) }
                    if try evaluate(pipe, dot).isTrue {
                        try render(body, dot: dot)
                    } else if let otherwise {
                        try render(otherwise, dot: dot)
                    }
                case .with(let pipe, let body, let otherwise):
                    let mark = variables.count
                    defer { variables.removeLast(variables.count - mark) }
                    let value = try evaluate(pipe, dot)
                    if value.isTrue {
                        try render(body, dot: value)
                    } else if let otherwise {
                        try render(otherwise, dot: dot)
                    }
                case .range(var pipe, let body, let otherwise):
                    let names = pipe.declarations
                    pipe.declarations = []
                    let collection = try evaluate(pipe, dot)
                    var elements: [(Item, Item)] = []
                    switch collection {
                    case .array(let items): elements = items.enumerated().map { (.int($0.offset), $0.element) }
                    case .map(let fields): elements = fields.keys.sorted().map { (.string($0), fields[$0]!) }
                    case .int(let count): elements = (0..<max(count, 0)).map { (.int($0), .int($0)) }
                    case .missing, .null: elements = []
                    default: throw failure(pipe, "range can't iterate over \(collection.printed())")
                    }
                    if elements.isEmpty {
                        if let otherwise { try render(otherwise, dot: dot) }
                        continue
                    }
                    loop: for (key, element) in elements {
                        let mark = variables.count
                        defer { variables.removeLast(variables.count - mark) }
                        if names.count == 1 { variables.append((names[0], element)) }
                        if names.count == 2 {
                            variables.append((names[0], key))
                            variables.append((names[1], element))
                        }
                        do {
                            try render(body, dot: element)
                        } catch Control.breakLoop {
                            break loop
                        } catch Control.continueLoop {
                            continue loop
                        }
                    }
                case .breakNode: throw Control.breakLoop
                case .continueNode: throw Control.continueLoop
                case .call(let name, let pipe):
                    guard let body = definitions[name] else { throw Failure(message: "template: no such template \"\(name)\"") }
                    guard callDepth < 100 else { throw Failure(message: "exceeded maximum template depth (100)") }
                    let argument = try pipe.map { try evaluate($0, dot) } ?? .missing
                    // A called template sees only `$` (its argument) and `.`.
                    let saved = variables
                    variables = [("$", argument)]
                    callDepth += 1
                    defer {
                        variables = saved
                        callDepth -= 1
                    }
                    try render(body, dot: argument)
                }
            }
        }

        mutating func evaluate(_ pipe: Pipe, _ dot: Item) throws -> Item {
            var value: Item?
            for command in pipe.commands {
                value = try run(command, pipe, dot, final: value)
            }
            let result = value ?? .missing
            if pipe.assigns, let name = pipe.declarations.first {
                guard let index = variables.lastIndex(where: { $0.0 == name }) else { throw failure(pipe, "undefined variable: \(name)") }
                variables[index].1 = result
            } else {
                for name in pipe.declarations { variables.append((name, result)) }
            }
            return result
        }

        mutating func run(_ command: [Operand], _ pipe: Pipe, _ dot: Item, final: Item?) throws -> Item {
            if case .function(let name) = command[0] {
                var arguments: [Item] = []
                // `and` / `or` stop at the first argument that settles them.
                if name == "and" || name == "or" {
                    var operands = Array(command.dropFirst())
                    var finalValue = final
                    guard !operands.isEmpty || finalValue != nil else {
                        throw failure(pipe, "wrong number of args for \(name): want at least 1 got 0")
                    }
                    var last: Item = .missing
                    while !operands.isEmpty || finalValue != nil {
                        if operands.isEmpty {
                            last = finalValue!
                            finalValue = nil
                        } else {
                            last = try operand(operands.removeFirst(), pipe, dot)
                        }
                        if (name == "and") != last.isTrue { return last }
                    }
                    return last
                }
                for item in command.dropFirst() { arguments.append(try operand(item, pipe, dot)) }
                if let final { arguments.append(final) }
                do {
                    return try GoTemplate.call(name, arguments)
                } catch let error as Failure {
                    throw failure(pipe, "error calling \(name): \(error.message)")
                }
            }
            guard command.count == 1, final == nil else {
                throw failure(pipe, "can't give argument to non-function \(GoTemplate.describe(command[0]))")
            }
            return try operand(command[0], pipe, dot)
        }

        mutating func operand(_ operand: Operand, _ pipe: Pipe, _ dot: Item) throws -> Item {
            switch operand {
            case .dot: return dot
            case .literal(let value): return value
            case .variable(let name):
                guard let found = variables.last(where: { $0.0 == name }) else { throw failure(pipe, "undefined variable: \(name)") }
                return found.1
            case .nested(let inner): return try evaluate(inner, dot)
            case .function(let name): return try run([.function(name)], pipe, dot, final: nil)
            case .field(let base, let names):
                var current = try base.map { try self.operand($0, pipe, dot) } ?? dot
                for name in names {
                    switch current {
                    case .map(let fields): current = fields[name] ?? .missing
                    case .missing: current = .missing
                    default: throw failure(pipe, "can't evaluate field \(name) in type interface {}")
                    }
                }
                return current
            }
        }
    }

    static func describe(_ operand: Operand) -> String {
        switch operand {
        case .dot: return "."
        case .variable(let name): return name
        case .field(_, let names): return "." + names.joined(separator: ".")
        case .literal(let value): return value.printed()
        case .function(let name): return name
        case .nested: return "(pipeline)"
        }
    }

    // MARK: Functions

    enum Kind { case bool, int, float, string, other }

    static func kind(_ item: Item) -> Kind {
        switch item {
        case .bool: return .bool
        case .int: return .int
        case .float: return .float
        case .string, .jsonNumber: return .string
        default: return .other
        }
    }

    static func compare(_ a: Item, _ b: Item) throws -> Int {
        switch (a, b) {
        case (.int(let x), .int(let y)): return x < y ? -1 : x == y ? 0 : 1
        case (.float(let x), .float(let y)): return x < y ? -1 : x == y ? 0 : 1
        case (.string(let x), .string(let y)), (.jsonNumber(let x), .jsonNumber(let y)), (.string(let x), .jsonNumber(let y)),
            (.jsonNumber(let x), .string(let y)):
            return x < y ? -1 : x == y ? 0 : 1
        default: throw Failure(message: "incompatible types for comparison")
        }
    }

    static func call(_ name: String, _ arguments: [Item]) throws -> Item {
        func want(_ count: Int) throws {
            guard arguments.count == count else { throw Failure(message: "wrong number of args for \(name): want \(count) got \(arguments.count)") }
        }
        switch name {
        case "not":
            try want(1)
            return .bool(!arguments[0].isTrue)
        case "len":
            try want(1)
            switch arguments[0] {
            case .string(let text), .jsonNumber(let text): return .int(text.utf8.count)
            case .array(let items): return .int(items.count)
            case .map(let fields): return .int(fields.count)
            default: throw Failure(message: "len of type \(arguments[0].typeName)")
            }
        case "index":
            guard var current = arguments.first else { throw Failure(message: "wrong number of args for index: want at least 1 got 0") }
            for key in arguments.dropFirst() {
                switch (current, key) {
                case (.array(let items), .int(let position)):
                    guard items.indices.contains(position) else { throw Failure(message: "index out of range: \(position)") }
                    current = items[position]
                case (.map(let fields), .string(let name)): current = fields[name] ?? .missing
                case (.missing, _), (.null, _): throw Failure(message: "index of untyped nil")
                default: throw Failure(message: "cannot index \(current.typeName) with \(key.typeName)")
                }
            }
            return current
        case "slice":
            guard let first = arguments.first else { throw Failure(message: "wrong number of args for slice: want at least 1 got 0") }
            let bounds = try arguments.dropFirst().map { item -> Int in
                guard case .int(let value) = item else { throw Failure(message: "cannot index slice/array with type \(item.typeName)") }
                return value
            }
            switch first {
            case .string(let text):
                let bytes = Array(text.utf8)
                let low = bounds.first ?? 0
                let high = bounds.count > 1 ? bounds[1] : bytes.count
                guard low >= 0, low <= high, high <= bytes.count else { throw Failure(message: "index out of range: \(high)") }
                return .string(String(decoding: bytes[low..<high], as: UTF8.self))
            case .array(let items):
                let low = bounds.first ?? 0
                let high = bounds.count > 1 ? bounds[1] : items.count
                guard low >= 0, low <= high, high <= items.count else { throw Failure(message: "index out of range: \(high)") }
                return .array(Array(items[low..<high]))
            default: throw Failure(message: "can't slice item of type \(first.typeName)")
            }
        case "print":
            var out = ""
            for (index, item) in arguments.enumerated() {
                // fmt.Sprint puts a space between operands when neither is a string.
                if index > 0, kind(arguments[index - 1]) != .string, kind(item) != .string { out += " " }
                out += item.printed(nested: true)
            }
            return .string(out)
        case "println": return .string(arguments.map { $0.printed(nested: true) }.joined(separator: " ") + "\n")
        case "printf":
            guard case .string(let format)? = arguments.first else { throw Failure(message: "wrong type for value; expected string") }
            // A data number is a json.Number, a string type to Go's formatter: `%v` and `%s` print its
            // text and `%d` prints the bad-verb marker naming the type, as OPA's output shows.
            let values = arguments.dropFirst().map { item -> Value in
                switch item {
                case .jsonNumber(let text): return .string(text)
                // Slices and maps print Go's way (`[x 2]`, `map[k:v]`).
                case .array, .map: return .string(item.printed(nested: true))
                default: return GoTemplate.regoValue(item)
                }
            }
            do {
                var text = try Builtins.sprintf(format, Array(values))
                for case .jsonNumber(let number) in arguments.dropFirst() {
                    text = text.replacingOccurrences(of: "(string=\(number))", with: "(json.Number=\(number))")
                }
                return .string(text)
            } catch {
                throw Failure(message: "\(error)")
            }
        case "html":
            let text = arguments.map { $0.printed(nested: true) }.joined()
            return .string(
                text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "'", with: "&#39;")
                    .replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
                    .replacingOccurrences(of: "\"", with: "&#34;").replacingOccurrences(of: "\u{0}", with: "\u{FFFD}"))
        case "js":
            var out = ""
            for scalar in arguments.map({ $0.printed(nested: true) }).joined().unicodeScalars {
                switch scalar {
                case "\\": out += "\\\\"
                case "'": out += "\\'"
                case "\"": out += "\\\""
                case "<": out += "\\u003C"
                case ">": out += "\\u003E"
                case "&": out += "\\u0026"
                case "=": out += "\\u003D"
                default:
                    if scalar.value < 0x20 { out += String(format: "\\u%04X", scalar.value) } else { out.unicodeScalars.append(scalar) }
                }
            }
            return .string(out)
        case "urlquery":
            let text = arguments.map { $0.printed(nested: true) }.joined()
            var out = ""
            for byte in text.utf8 {
                let character = Character(UnicodeScalar(byte))
                if byte < 128, character.isLetter || character.isNumber || "-_.~".contains(character) {
                    out.append(character)
                } else if byte == 32 {
                    out += "+"
                } else {
                    out += String(format: "%%%02X", byte)
                }
            }
            return .string(out)
        case "eq":
            guard arguments.count >= 2 else { throw Failure(message: "missing argument for comparison") }
            let first = arguments[0]
            for other in arguments.dropFirst() {
                guard kind(first) != .other, kind(other) != .other else {
                    if case .null = first, case .null = other { return .bool(true) }
                    throw Failure(message: "invalid type for comparison")
                }
                guard kind(first) == kind(other) else {
                    throw Failure(message: "incompatible types for comparison: \(first.typeName) and \(other.typeName)")
                }
                if first.printed() == other.printed(), try compare(first, other) == 0 { return .bool(true) }
                if case .bool(let x) = first, case .bool(let y) = other, x == y { return .bool(true) }
            }
            return .bool(false)
        case "ne", "lt", "le", "gt", "ge":
            try want(2)
            let (a, b) = (arguments[0], arguments[1])
            if name == "ne" {
                guard kind(a) == kind(b) else { throw Failure(message: "incompatible types for comparison: \(a.typeName) and \(b.typeName)") }
                if case .bool(let x) = a, case .bool(let y) = b { return .bool(x != y) }
                return .bool(try compare(a, b) != 0)
            }
            guard kind(a) != .bool, kind(a) != .other, kind(b) != .other, kind(b) != .bool else {
                throw Failure(message: "invalid type for comparison")
            }
            guard kind(a) == kind(b) else { throw Failure(message: "incompatible types for comparison: \(a.typeName) and \(b.typeName)") }
            let order = try compare(a, b)
            switch name {
            case "lt": return .bool(order < 0)
            case "le": return .bool(order <= 0)
            case "gt": return .bool(order > 0)
            default: return .bool(order >= 0)
            }
        default:
            throw Failure(message: "function \"\(name)\" not defined")
        }
    }

    /// A template value handed to `printf` (Warden's Go-style formatter works on Rego values).
    static func regoValue(_ item: Item) -> Value {
        switch item {
        case .missing, .null: return .null
        case .bool(let flag): return .bool(flag)
        case .string(let text): return .string(text)
        case .jsonNumber(let text): return Number(text).map(Value.number) ?? .string(text)
        case .int(let value): return .int(value)
        case .float(let value): return Number(String(value)).map(Value.number) ?? .null
        case .array(let items): return .array(items.map(regoValue))
        case .map(let fields): return .object(Dictionary(uniqueKeysWithValues: fields.map { (.string($0.key), regoValue($0.value)) }))
        }
    }
}
