/// Turns Rego source into tokens. Works on UTF-8 bytes; every loop advances, so any input ends.
public struct Lexer {
    let bytes: [UInt8]
    let file: String
    var index = 0
    var line = 1
    var lineStart = 0
    var sawNewline = true
    /// Comments seen so far (`#` to the end of the line), for the formatter.
    var comments: [Comment] = []

    /// A comment: where it starts and its text after `#`.
    struct Comment: Equatable {
        var line: Int
        var column: Int
        var text: String
    }

    public init(source: String, file: String) {
        self.bytes = Array(source.utf8)
        self.file = file
    }

    /// All tokens, ending with `.endOfFile`.
    public static func tokenize(_ source: String, file: String, limits: Limits = .default) throws(RegoError) -> [Token] {
        guard source.utf8.count <= limits.maxSourceBytes else {
            throw RegoError(.parseError, "module is larger than \(limits.maxSourceBytes) bytes", location: Location(file: file, line: 1, column: 1))
        }
        var lexer = Lexer(source: source, file: file)
        var tokens: [Token] = []
        while true {
            let token = try lexer.next()
            tokens.append(token)
            if token.kind == .endOfFile { return tokens }
        }
    }

    var column: Int { index - lineStart + 1 }

    /// Every comment of a source, in order.
    static func comments(_ source: String, file: String) throws(RegoError) -> [Comment] {
        var lexer = Lexer(source: source, file: file)
        while try lexer.next().kind != .endOfFile {}
        return lexer.comments
    }

    /// The text of the given line, for error messages.
    static func lineText(_ bytes: [UInt8], line: Int) -> String {
        var current = 1
        var start = 0
        for (offset, byte) in bytes.enumerated() where current < line && byte == 0x0A {
            current += 1
            start = offset + 1
        }
        guard current == line else { return "" }
        var end = start
        while end < bytes.count, bytes[end] != 0x0A { end += 1 }
        return String(decoding: bytes[start..<end], as: UTF8.self).trimmingTrailingCR()
    }

    func error(_ message: String, line: Int? = nil, column: Int? = nil) -> RegoError {
        let line = line ?? self.line
        return RegoError(
            .parseError, message, location: Location(file: file, line: line, column: column ?? self.column),
            text: Lexer.lineText(bytes, line: line)
        )
    }

    mutating func next() throws(RegoError) -> Token {
        skipSpaceAndComments()
        let newline = sawNewline
        sawNewline = false
        let startLine = line
        let startColumn = column
        func token(_ kind: Token.Kind) -> Token {
            Token(kind: kind, line: startLine, column: startColumn, afterNewline: newline)
        }
        guard index < bytes.count else { return token(.endOfFile) }
        let byte = bytes[index]
        if Lexer.isIdentifierStart(byte) {
            let start = index
            while index < bytes.count, Lexer.isIdentifierPart(bytes[index]) { index += 1 }
            let text = String(decoding: bytes[start..<index], as: UTF8.self)
            if let keyword = Token.Keyword(rawValue: text) { return token(.keyword(keyword)) }
            return token(.identifier(text))
        }
        if Lexer.isDigit(byte) { return token(.number(try lexNumber())) }
        switch byte {
        case UInt8(ascii: "\""):
            index += 1
            return token(.string(try lexQuoted(), raw: false))
        case UInt8(ascii: "`"):
            index += 1
            return token(.string(try lexRaw(), raw: true))
        case UInt8(ascii: "$") where index + 1 < bytes.count && (bytes[index + 1] == UInt8(ascii: "\"") || bytes[index + 1] == UInt8(ascii: "`")):
            let raw = bytes[index + 1] == UInt8(ascii: "`")
            index += 2
            return token(.template(try lexTemplate(raw: raw)))
        default:
            break
        }
        // Punctuation: longest match first.
        let two: String? = index + 1 < bytes.count ? String(decoding: bytes[index...index + 1], as: UTF8.self) : nil
        if let two, let punctuation = Token.Punctuation(rawValue: two) {
            index += 2
            return token(.punctuation(punctuation))
        }
        if let punctuation = Token.Punctuation(rawValue: String(UnicodeScalar(byte))) {
            index += 1
            return token(.punctuation(punctuation))
        }
        throw error("unexpected character '\(Lexer.describe(byte))'")
    }

    mutating func skipSpaceAndComments() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x0A:
                index += 1
                line += 1
                lineStart = index
                sawNewline = true
            case 0x20, 0x09, 0x0D:
                index += 1
            case UInt8(ascii: "#"):
                let start = index
                let column = self.column
                while index < bytes.count, bytes[index] != 0x0A { index += 1 }
                let text = String(decoding: bytes[(start + 1)..<index], as: UTF8.self)
                comments.append(Comment(line: line, column: column, text: text.hasSuffix("\r") ? String(text.dropLast()) : text))
            default:
                return
            }
        }
    }

    mutating func lexNumber() throws(RegoError) -> String {
        let start = index
        while index < bytes.count, Lexer.isDigit(bytes[index]) { index += 1 }
        if index + 1 < bytes.count, bytes[index] == UInt8(ascii: "."), Lexer.isDigit(bytes[index + 1]) {
            index += 1
            while index < bytes.count, Lexer.isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            var probe = index + 1
            if probe < bytes.count, bytes[probe] == UInt8(ascii: "+") || bytes[probe] == UInt8(ascii: "-") { probe += 1 }
            guard probe < bytes.count, Lexer.isDigit(bytes[probe]) else { throw error("invalid number: exponent has no digits") }
            index = probe
            while index < bytes.count, Lexer.isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, Lexer.isIdentifierStart(bytes[index]) {
            throw error("invalid number: unexpected '\(Lexer.describe(bytes[index]))' after digits")
        }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        if text.count > 1, text.hasPrefix("0"), !text.hasPrefix("0."), !text.hasPrefix("0e"), !text.hasPrefix("0E") {
            throw error("invalid number: leading zero in '\(text)'", column: start - lineStart + 1)
        }
        return text
    }

    /// A double-quoted string's value; the opening quote is consumed.
    mutating func lexQuoted() throws(RegoError) -> String {
        try lexQuotedPiece(stopAtBrace: false).text
    }

    /// Reads up to the closing quote (consumed), or with `stopAtBrace` up to an unescaped `{` (not consumed).
    mutating func lexQuotedPiece(stopAtBrace: Bool) throws(RegoError) -> (text: String, atBrace: Bool) {
        var out: [UInt8] = []
        let startColumn = column - 1
        while true {
            guard index < bytes.count, bytes[index] != 0x0A else {
                throw error("unterminated string", column: startColumn)
            }
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                index += 1
                return (String(decoding: out, as: UTF8.self), false)
            }
            if byte == UInt8(ascii: "\\") {
                let escapeColumn = column
                index += 1
                guard index < bytes.count else { throw error("unterminated string", column: startColumn) }
                let escaped = bytes[index]
                index += 1
                switch escaped {
                case UInt8(ascii: "\""): out.append(UInt8(ascii: "\""))
                case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\"))
                case UInt8(ascii: "/"): out.append(UInt8(ascii: "/"))
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try lexHex4()
                    if (0xD800..<0xDC00).contains(scalar), index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"),
                        bytes[index + 1] == UInt8(ascii: "u")
                    {
                        index += 2
                        let low = try lexHex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw error("invalid surrogate pair in string escape") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let unicode = UnicodeScalar(scalar) else { throw error("invalid unicode escape in string") }
                    out.append(contentsOf: Array(String(Character(unicode)).utf8))
                case UInt8(ascii: "{") where stopAtBrace:
                    out.append(UInt8(ascii: "{"))
                default:
                    throw error("invalid escape sequence '\\\(Lexer.describe(escaped))' in string", column: escapeColumn)
                }
                continue
            }
            if stopAtBrace && byte == UInt8(ascii: "{") { return (String(decoding: out, as: UTF8.self), true) }
            guard byte >= 0x20 else { throw error("control character in string") }
            out.append(byte)
            index += 1
        }
    }

    mutating func lexHex4() throws(RegoError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw error("invalid unicode escape in string") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw error("invalid unicode escape in string")
            }
            value = value * 16 + digit
            index += 1
        }
        return value
    }

    /// A raw string's value; the opening backtick is consumed. Raw strings may span lines.
    mutating func lexRaw() throws(RegoError) -> String {
        let startLine = line
        let startColumn = column - 1
        let start = index
        while index < bytes.count, bytes[index] != UInt8(ascii: "`") {
            if bytes[index] == 0x0A {
                line += 1
                lineStart = index + 1
            }
            index += 1
        }
        guard index < bytes.count else { throw error("unterminated raw string", line: startLine, column: startColumn) }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        index += 1
        return text
    }

    /// `$"…"` or `` $`…` ``: text pieces and `{expression}` pieces; `\{` is a literal brace in `$"…"`.
    mutating func lexTemplate(raw: Bool) throws(RegoError) -> [Token.TemplatePiece] {
        var pieces: [Token.TemplatePiece] = []
        let startLine = line
        let startColumn = column - 2
        while true {
            let text: String
            if raw {
                // Raw text up to "{" or the closing backtick; `\{` is a literal brace.
                var out: [UInt8] = []
                while index < bytes.count, bytes[index] != UInt8(ascii: "`"), bytes[index] != UInt8(ascii: "{") {
                    if bytes[index] == UInt8(ascii: "\\"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "{") {
                        out.append(UInt8(ascii: "{"))
                        index += 2
                        continue
                    }
                    if bytes[index] == 0x0A {
                        line += 1
                        lineStart = index + 1
                    }
                    out.append(bytes[index])
                    index += 1
                }
                guard index < bytes.count else { throw error("unterminated template string", line: startLine, column: startColumn) }
                text = String(decoding: out, as: UTF8.self)
            } else {
                let piece = try lexQuotedPiece(stopAtBrace: true)
                text = piece.text
                if !piece.atBrace {
                    if !text.isEmpty { pieces.append(.text(text)) }
                    return pieces
                }
            }
            if !text.isEmpty { pieces.append(.text(text)) }
            if raw && bytes[index] == UInt8(ascii: "`") {
                index += 1
                return pieces
            }
            // At "{": take the expression up to the matching "}".
            index += 1
            let exprLine = line
            let exprColumn = column
            let start = index
            var depth = 0
            while true {
                guard index < bytes.count else { throw error("unterminated expression in template string", line: exprLine, column: exprColumn) }
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    index += 1
                    _ = try lexQuoted()
                    continue
                }
                if byte == UInt8(ascii: "{") { depth += 1 }
                if byte == UInt8(ascii: "}") {
                    if depth == 0 { break }
                    depth -= 1
                }
                if byte == 0x0A {
                    line += 1
                    lineStart = index + 1
                }
                index += 1
            }
            let source = String(decoding: bytes[start..<index], as: UTF8.self)
            guard !source.trimmingSpaces().isEmpty else { throw error("empty expression in template string", line: exprLine, column: exprColumn) }
            pieces.append(.expression(source, line: exprLine, column: exprColumn))
            index += 1
        }
    }

    static func isIdentifierStart(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) || byte == UInt8(ascii: "_")
    }

    static func isIdentifierPart(_ byte: UInt8) -> Bool { isIdentifierStart(byte) || isDigit(byte) }

    static func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }

    static func describe(_ byte: UInt8) -> String {
        byte >= 0x20 && byte < 0x7F ? String(UnicodeScalar(byte)) : "\\x" + String(byte, radix: 16)
    }
}

extension String {
    func trimmingTrailingCR() -> String {
        hasSuffix("\r") ? String(dropLast()) : self
    }

    func trimmingSpaces() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first == " " || first == "\t" || first == "\n" || first == "\r" { scalars.removeFirst() }
        while let last = scalars.last, last == " " || last == "\t" || last == "\n" || last == "\r" { scalars.removeLast() }
        return String(scalars)
    }
}
