import Foundation

/// YAML for `yaml.unmarshal`, `yaml.is_valid`, `yaml.marshal` and `-d file.yaml`, read and written by
/// hand (the engine depends on Foundation and swift-crypto only), as OPA reads it: YAML turned into
/// JSON (`sigs.k8s.io/yaml` over `yaml.v2`), so YAML 1.1 scalars (`yes`, `off`, `~`, `0x1F`), keys
/// as strings, the first document of a stream. Block and flow collections, plain, quoted, literal
/// and folded scalars, anchors, aliases, merge keys (`<<`) and the common tags are supported;
/// complex keys (`? …`) are refused with an error. Size and nesting are bounded.
extension Value {
    public static func parseYAML(_ text: String, maxBytes: Int = 16 << 20, maxDepth: Int = 200) throws(RegoError) -> Value {
        guard text.utf8.count <= maxBytes else { throw RegoError(.limitExceeded, "YAML document is larger than \(maxBytes) bytes") }
        var reader = YAMLReader(text: text, maxDepth: maxDepth)
        return try reader.document()
    }

    /// The value as YAML in `yaml.v2`'s block style: sorted keys, two-space indentation, a
    /// mapping's sequences not indented, strings quoted only when they would read as something else.
    public var yamlText: String {
        var out = ""
        YAMLWriter.write(self, indent: 0, into: &out)
        return out
    }
}

struct YAMLReader {
    var lines: [[Unicode.Scalar]]
    var index = 0
    var anchors: [String: Value] = [:]
    let maxDepth: Int
    var depth = 0
    /// Lines after this one belong to later documents.
    var end: Int

    init(text: String, maxDepth: Int) {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> [Unicode.Scalar] in
            var characters = Array(line.unicodeScalars)
            if characters.last == "\r" { characters.removeLast() }
            return characters
        }
        if lines.first?.first == "\u{FEFF}" { lines[0].removeFirst() }
        self.lines = lines
        self.maxDepth = maxDepth
        self.end = lines.count
    }

    func error(_ message: String, line: Int? = nil) -> RegoError {
        RegoError(.parseError, "yaml: line \((line ?? index) + 1): \(message)")
    }

    // MARK: Documents

    mutating func document() throws(RegoError) -> Value {
        // Directives, then an optional `---` (which may carry the root node on its line).
        while index < lines.count, lines[index].first == "%" { index += 1 }
        if let first = nextContent(), isMarker(first, "---") {
            let rest = lines[first].dropFirst(3)
            lines[first] = Array(repeating: " ", count: 4) + rest.drop { $0 == " " }
            if rest.allSatisfy({ $0 == " " || $0 == "\t" }) { index = first + 1 }
        }
        for line in index..<lines.count where isMarker(line, "---") || isMarker(line, "...") {
            end = line
            break
        }
        guard nextContent() != nil else { return .null }
        let value = try node(parent: -1)
        if let extra = nextContent() { throw error("did not find expected <document start>", line: extra) }
        return value
    }

    func isMarker(_ line: Int, _ marker: String) -> Bool {
        let characters = lines[line]
        guard characters.count >= 3, characters[0..<3].string == marker else { return false }
        return characters.count == 3 || characters[3] == " " || characters[3] == "\t"
    }

    /// The next line with content (not blank, not only a comment), from `index`, before the document's end.
    func nextContent() -> Int? {
        var line = index
        while line < end {
            if let first = lines[line].firstIndex(where: { $0 != " " && $0 != "\t" }), lines[line][first] != "#" { return line }
            line += 1
        }
        return nil
    }

    func indent(_ line: Int) -> Int { lines[line].prefix { $0 == " " }.count }

    func content(_ line: Int) -> ArraySlice<Unicode.Scalar> { lines[line].dropFirst(indent(line)) }

    // MARK: Block nodes

    /// A node whose lines are indented deeper than `parent`.
    mutating func node(parent: Int) throws(RegoError) -> Value {
        depth += 1
        defer { depth -= 1 }
        guard depth <= maxDepth else { throw RegoError(.limitExceeded, "YAML nested deeper than \(maxDepth) levels") }
        guard let line = nextContent(), indent(line) > parent else { return .null }
        if lines[line][indent(line)] == "\t" { throw error("found a tab character that violates indentation", line: line) }
        let column = indent(line)
        let text = content(line)
        if isSequenceItem(text) { return try sequence(column) }
        if try splitKey(text, line: line) != nil { return try mapping(column) }
        index = line
        return try inline(Array(text), line: line, column: column, parent: parent)
    }

    func isSequenceItem(_ text: ArraySlice<Unicode.Scalar>) -> Bool {
        text.first == "-" && (text.count == 1 || text[text.startIndex + 1] == " " || text[text.startIndex + 1] == "\t")
    }

    mutating func sequence(_ column: Int) throws(RegoError) -> Value {
        var items: [Value] = []
        while let line = nextContent(), indent(line) == column, isSequenceItem(content(line)) {
            let rest = content(line).dropFirst()
            let spaces = rest.prefix { $0 == " " || $0 == "\t" }.count
            if rest.count == spaces || rest[rest.startIndex + spaces] == "#" {
                index = line + 1
                if let next = nextContent(), indent(next) > column {
                    items.append(try node(parent: column))
                } else {
                    items.append(.null)
                }
            } else {
                // `- item`: the item is read as if it started on its own line at its column.
                lines[line] = Array(repeating: " ", count: column + 1 + spaces) + rest.dropFirst(spaces)
                index = line
                items.append(try node(parent: column))
            }
        }
        try expectNoDeeper(than: column)
        return .array(items)
    }

    mutating func mapping(_ column: Int) throws(RegoError) -> Value {
        var fields: [Value: Value] = [:]
        var merged: [Value: Value] = [:]
        while let line = nextContent(), indent(line) == column {
            guard let (key, rest, restColumn) = try splitKey(content(line), line: line) else {
                if isSequenceItem(content(line)) { throw error("did not find expected key", line: line) }
                throw error("could not find expected ':'", line: line)
            }
            let value: Value
            let trimmed = rest.drop { $0 == " " || $0 == "\t" }
            if trimmed.isEmpty || trimmed.first == "#" {
                index = line + 1
                if let next = nextContent(), indent(next) > column {
                    value = try node(parent: column)
                } else if let next = nextContent(), indent(next) == column, isSequenceItem(content(next)) {
                    value = try sequence(column)
                } else {
                    value = .null
                }
            } else {
                index = line
                value = try inline(Array(trimmed), line: line, column: restColumn + (rest.count - trimmed.count), parent: column)
            }
            if case .string("<<") = key {
                // Merge keys: the mapping (or mappings) named take effect where not set explicitly.
                let sources: [Value]
                if case .array(let items) = value { sources = items } else { sources = [value] }
                for source in sources.reversed() {
                    guard case .object(let sourceFields) = source else {
                        throw error("map merge requires map or sequence of maps as the value", line: line)
                    }
                    merged.merge(sourceFields) { _, new in new }
                }
                continue
            }
            fields[key] = value  // a repeated key: the last value, as OPA reads YAML
        }
        try expectNoDeeper(than: column)
        return .object(merged.merging(fields) { _, explicit in explicit })
    }

    func expectNoDeeper(than column: Int) throws(RegoError) {
        if let line = nextContent(), indent(line) > column { throw error("did not find expected key (bad indentation)", line: line) }
    }

    /// `key: rest` with the key read as a scalar; `nil` when the text is not a mapping entry.
    func splitKey(_ text: ArraySlice<Unicode.Scalar>, line: Int) throws(RegoError) -> (Value, ArraySlice<Unicode.Scalar>, Int)? {
        guard let first = text.first else { return nil }
        let base = text.startIndex
        let column = indent(line)
        if first == "?" && (text.count == 1 || text[base + 1] == " ") { throw error("complex mapping keys ('? …') are not supported", line: line) }
        if first == "\"" || first == "'" {
            var scanner = FlowScanner(characters: Array(text), maxDepth: maxDepth)
            guard let key = try? scanner.quoted() else { return nil }
            scanner.skipSpaces()
            guard scanner.peek == ":",
                scanner.position + 1 == scanner.characters.count || " \t".unicodeScalars.contains(scanner.characters[scanner.position + 1])
            else { return nil }
            let rest = text.dropFirst(scanner.position + 1)
            return (.string(key), rest, column + scanner.position + 1)
        }
        if "[{#&*!|>%@`".unicodeScalars.contains(first) || isSequenceItem(text) { return nil }
        var position = base
        while position < text.endIndex {
            let character = text[position]
            if character == "#", position > base, text[position - 1] == " " || text[position - 1] == "\t" { return nil }
            if character == ":", position + 1 == text.endIndex || text[position + 1] == " " || text[position + 1] == "\t" {
                let keyText = text[base..<position].string.trimmingTrailingSpaces()
                let key = YAMLReader.keyValue(YAMLReader.resolve(keyText))
                return (key, text[(position + 1)...], column + (position - base) + 1)
            }
            position += 1
        }
        return nil
    }

    /// Keys become strings, as in the JSON OPA reads: `1` is "1", `true` is "true", `~` is "null".
    static func keyValue(_ value: Value) -> Value {
        if case .string = value { return value }
        return .string(value.jsonText)
    }

    // MARK: Scalars and flow nodes on a line

    /// A node that starts on `line` at `column` with `text`: properties, an alias, a block scalar, a
    /// flow collection, a quoted or a plain scalar (which may continue on deeper lines).
    mutating func inline(_ start: [Unicode.Scalar], line: Int, column: Int, parent: Int) throws(RegoError) -> Value {
        var text = start[...]
        var anchor: String?
        var tag: String?
        while let first = text.first, first == "&" || first == "!" {
            let word = text.prefix { $0 != " " && $0 != "\t" }.string
            text = text.dropFirst(word.count).drop { $0 == " " || $0 == "\t" }
            if first == "&" { anchor = String(word.dropFirst()) } else { tag = word }
        }
        var value: Value
        if text.isEmpty || text.first == "#" {
            index = line + 1
            value = try node(parent: parent)
            if value == .null, let next = nextContent(), parent >= 0, indent(next) == parent, isSequenceItem(content(next)) {
                value = try sequence(parent)
            }
        } else if text.first == "*" {
            let name = text.dropFirst().prefix { $0 != " " && $0 != "\t" }.string
            guard let target = anchors[name] else { throw error("unknown anchor '\(name)' referenced", line: line) }
            value = target
            index = line + 1
        } else if text.first == "|" || text.first == ">" {
            value = .string(try blockScalar(text.string, line: line, parent: parent))
        } else if text.first == "[" || text.first == "{" || text.first == "\"" || text.first == "'" {
            value = try flow(Array(text), line: line, parent: parent)
        } else if let first = text.first, "@`".unicodeScalars.contains(first) {
            throw error("found character that cannot start any token", line: line)
        } else {
            value = .string(try plain(Array(text), line: line, parent: parent))
            if tag == nil, case .string(let raw) = value { value = YAMLReader.resolve(raw) }
        }
        if let tag { value = try tagged(value, tag, line: line) }
        if let anchor { anchors[anchor] = value }
        return value
    }

    func tagged(_ value: Value, _ tag: String, line: Int) throws(RegoError) -> Value {
        switch tag {
        case "!!str", "!!binary", "!!timestamp":
            if case .string = value { return value }
            return .string(value.jsonText)
        case "!!int", "!!float", "!!bool", "!!null":
            guard case .string(let text) = value else { return value }
            let resolved = YAMLReader.resolve(text)
            if case .string = resolved { throw error("cannot decode !!\(tag.dropFirst(2)) `\(text)`", line: line) }
            return resolved
        default:
            return value
        }
    }

    /// A plain scalar: the rest of the line without its comment, folded with deeper continuation lines.
    mutating func plain(_ text: [Unicode.Scalar], line: Int, parent: Int) throws(RegoError) -> String {
        var result = YAMLReader.withoutComment(text[...])
        index = line + 1
        var blank = 0
        var cursor = line + 1
        while cursor < end {
            let characters = lines[cursor]
            let lead = characters.prefix { $0 == " " || $0 == "\t" }.count
            if lead == characters.count {
                blank += 1
                cursor += 1
                continue
            }
            guard indent(cursor) > parent, characters[lead] != "#" else { break }
            let piece = YAMLReader.withoutComment(characters[lead...])
            if piece.contains(": ") || piece.hasSuffix(":") { throw error("mapping values are not allowed in this context", line: cursor) }
            if blank > 0 { result += String(repeating: "\n", count: blank) } else { result += " " }
            result += piece
            blank = 0
            cursor += 1
            index = cursor
        }
        return result
    }

    static func withoutComment(_ text: ArraySlice<Unicode.Scalar>) -> String {
        var end = text.endIndex
        var position = text.startIndex
        while position < text.endIndex {
            if text[position] == "#", position > text.startIndex, text[position - 1] == " " || text[position - 1] == "\t" {
                end = position
                break
            }
            position += 1
        }
        return text[text.startIndex..<end].string.trimmingTrailingSpaces()
    }

    /// `|` and `>` scalars with chomping (`-`, `+`) and an indentation indicator.
    mutating func blockScalar(_ header: String, line: Int, parent: Int) throws(RegoError) -> String {
        let literal = header.first == "|"
        var chomping: Character = " "
        var explicit: Int?
        for character in YAMLReader.withoutComment(Array(header.unicodeScalars.dropFirst())[...]) {
            if character == "-" || character == "+" {
                chomping = character
            } else if let digit = character.wholeNumberValue, digit > 0 {
                explicit = digit
            } else if character != " " {
                throw error("did not find expected comment or line break", line: line)
            }
        }
        var cursor = line + 1
        var contentIndent = explicit.map { max(parent, 0) + $0 }
        var collected: [String] = []
        while cursor < end {
            let characters = lines[cursor]
            let lead = characters.prefix { $0 == " " }.count
            if lead == characters.count || characters.allSatisfy({ $0 == " " || $0 == "\t" }) {
                collected.append(contentIndent.map { lead > $0 ? characters.dropFirst($0).string : "" } ?? "")
                cursor += 1
                continue
            }
            if contentIndent == nil {
                guard lead > parent else { break }
                contentIndent = lead
            }
            guard lead >= contentIndent! else { break }
            collected.append(characters.dropFirst(contentIndent!).string)
            cursor += 1
        }
        index = cursor
        var trailing = 0
        while let last = collected.last, last.isEmpty {
            trailing += 1
            collected.removeLast()
        }
        var text: String
        if literal {
            text = collected.joined(separator: "\n")
        } else {
            text = ""
            var previousNormal: Bool?
            var breaks = 0
            for piece in collected {
                if piece.isEmpty {
                    breaks += 1
                    continue
                }
                let moreIndented = piece.first == " " || piece.first == "\t"
                if let previous = previousNormal {
                    if previous && !moreIndented {
                        text += breaks == 0 ? " " : String(repeating: "\n", count: breaks)
                    } else {
                        text += String(repeating: "\n", count: breaks + 1)
                    }
                } else {
                    text += String(repeating: "\n", count: breaks)
                }
                text += piece
                previousNormal = !moreIndented
                breaks = 0
            }
        }
        switch chomping {
        case "-": return text
        case "+": return text + String(repeating: "\n", count: collected.isEmpty ? trailing : trailing + 1)
        default: return collected.isEmpty ? "" : text + "\n"
        }
    }

    /// A flow collection or quoted scalar, which may run over several lines.
    mutating func flow(_ start: [Unicode.Scalar], line: Int, parent: Int) throws(RegoError) -> Value {
        var characters = start
        var cursor = line + 1
        while true {
            var scanner = FlowScanner(characters: characters, maxDepth: maxDepth, anchors: anchors)
            do {
                let value = try scanner.node()
                scanner.skipSpaces()
                guard scanner.atEnd || scanner.peek == "#" else {
                    throw error("did not find expected <document end> after a flow node", line: cursor - 1)
                }
                anchors = scanner.anchors
                index = cursor
                return value
            } catch let failure as FlowScanner.Incomplete {
                guard cursor < end else { throw error(failure.message, line: line) }
                characters.append("\n")
                characters += lines[cursor]
                cursor += 1
            } catch let failure as RegoError {
                throw failure
            } catch {
                throw self.error("\(error)", line: line)
            }
        }
    }

    // MARK: Resolving plain scalars (YAML 1.1, as yaml.v2)

    static func resolve(_ text: String) -> Value {
        switch text {
        case "", "~", "null", "Null", "NULL": return .null
        case "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON": return .bool(true)
        case "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF": return .bool(false)
        default: break
        }
        guard let first = text.first, first.isNumber || first == "-" || first == "+" || first == "." else { return .string(text) }
        let plain = text.replacingOccurrences(of: "_", with: "")
        var digits = plain[...]
        var negative = false
        if digits.first == "-" || digits.first == "+" {
            negative = digits.first == "-"
            digits = digits.dropFirst()
        }
        for (prefix, radix) in [("0x", 16), ("0b", 2), ("0o", 8)] where digits.hasPrefix(prefix) {
            guard let magnitude = Int(digits.dropFirst(2), radix: radix) else { return .string(text) }
            return .number(Number(negative ? -magnitude : magnitude))
        }
        if digits.count > 1, digits.first == "0", digits.allSatisfy({ ("0"..."7").contains($0) }), let magnitude = Int(digits, radix: 8) {
            return .number(Number(negative ? -magnitude : magnitude))
        }
        if isDecimal(digits) {
            var json = String(digits)
            if json.hasPrefix(".") { json = "0" + json }
            if json.hasSuffix(".") { json += "0" }
            json = json.replacingOccurrences(of: ".e", with: ".0e").replacingOccurrences(of: ".E", with: ".0E")
            if let number = Number((negative ? "-" : "") + json) { return .number(number) }
        }
        return .string(text)
    }

    /// `12`, `1.5`, `.5`, `1.`, `1e3`, `1.5e-3` (digits, one optional point, an optional exponent).
    static func isDecimal(_ text: Substring) -> Bool {
        var sawDigit = false
        var sawPoint = false
        var position = text.startIndex
        while position < text.endIndex {
            let character = text[position]
            if character.isASCII && character.isNumber {
                sawDigit = true
            } else if character == "." && !sawPoint {
                sawPoint = true
            } else if character == "e" || character == "E" {
                var exponent = text[text.index(after: position)...]
                if exponent.first == "-" || exponent.first == "+" { exponent = exponent.dropFirst() }
                return sawDigit && !exponent.isEmpty && exponent.allSatisfy { $0.isASCII && $0.isNumber }
            } else {
                return false
            }
            position = text.index(after: position)
        }
        return sawDigit
    }
}

/// Flow collections (`[a, b]`, `{k: v}`) and quoted scalars over characters that may span lines.
struct FlowScanner {
    /// The text ended before the node did: the reader appends the next line and tries again.
    struct Incomplete: Error {
        var message: String
    }

    var characters: [Unicode.Scalar]
    var position = 0
    let maxDepth: Int
    var anchors: [String: Value] = [:]
    var depth = 0

    init(characters: [Unicode.Scalar], maxDepth: Int, anchors: [String: Value] = [:]) {
        self.characters = characters
        self.maxDepth = maxDepth
        self.anchors = anchors
    }

    var atEnd: Bool { position >= characters.count }
    var peek: Unicode.Scalar? { atEnd ? nil : characters[position] }

    mutating func skipSpaces() {
        while let character = peek, character == " " || character == "\t" { position += 1 }
    }

    /// Spaces, line breaks and comments between flow tokens.
    mutating func skipSeparation() {
        while let character = peek {
            if character == " " || character == "\t" || character == "\n" {
                position += 1
            } else if character == "#", position == 0 || " \t\n".unicodeScalars.contains(characters[position - 1]) {
                while let next = peek, next != "\n" { position += 1 }
            } else {
                return
            }
        }
    }

    mutating func node() throws -> Value {
        depth += 1
        defer { depth -= 1 }
        guard depth <= maxDepth else { throw RegoError(.limitExceeded, "YAML nested deeper than \(maxDepth) levels") }
        skipSeparation()
        var anchor: String?
        while let first = peek, first == "&" || first == "!" {
            let start = position
            while let character = peek, !" \t\n,[]{}".unicodeScalars.contains(character) { position += 1 }
            if first == "&" { anchor = characters[(start + 1)..<position].string }
            skipSeparation()
        }
        let value: Value
        switch peek {
        case nil: throw Incomplete(message: "did not find expected node content")
        case "[": value = try sequence()
        case "{": value = try mapping()
        case "\"", "'": value = .string(try quoted())
        case "*":
            position += 1
            let start = position
            while let character = peek, !" \t\n,[]{}".unicodeScalars.contains(character) { position += 1 }
            let name = characters[start..<position].string
            guard let target = anchors[name] else { throw RegoError(.parseError, "yaml: unknown anchor '\(name)' referenced") }
            value = target
        default: value = YAMLReader.resolve(plainScalar())
        }
        if let anchor { anchors[anchor] = value }
        return value
    }

    mutating func sequence() throws -> Value {
        position += 1
        var items: [Value] = []
        while true {
            skipSeparation()
            guard let character = peek else { throw Incomplete(message: "did not find expected ',' or ']'") }
            if character == "]" {
                position += 1
                return .array(items)
            }
            var item = try node()
            skipSeparation()
            if peek == ":" {
                // `[k: v]`: a single-pair mapping as an item.
                position += 1
                let value = try node()
                item = .object([YAMLReader.keyValue(item): value])
                skipSeparation()
            }
            items.append(item)
            guard let next = peek else { throw Incomplete(message: "did not find expected ',' or ']'") }
            if next == "," {
                position += 1
            } else if next != "]" {
                throw RegoError(.parseError, "yaml: did not find expected ',' or ']'")
            }
        }
    }

    mutating func mapping() throws -> Value {
        position += 1
        var fields: [Value: Value] = [:]
        while true {
            skipSeparation()
            guard let character = peek else { throw Incomplete(message: "did not find expected ',' or '}'") }
            if character == "}" {
                position += 1
                return .object(fields)
            }
            let key = YAMLReader.keyValue(try node())
            skipSeparation()
            var value = Value.null
            if peek == ":" {
                position += 1
                skipSeparation()
                if let next = peek, next != ",", next != "}" { value = try node() }
            }
            fields[key] = value
            skipSeparation()
            guard let next = peek else { throw Incomplete(message: "did not find expected ',' or '}'") }
            if next == "," {
                position += 1
            } else if next != "}" {
                throw RegoError(.parseError, "yaml: did not find expected ',' or '}'")
            }
        }
    }

    /// A plain scalar inside a flow collection: up to `,`, a bracket, `: ` or a comment.
    mutating func plainScalar() -> String {
        let start = position
        while let character = peek {
            if ",[]{}\n".unicodeScalars.contains(character) { break }
            if character == ":", position + 1 >= characters.count || " \t\n,[]{}".unicodeScalars.contains(characters[position + 1]) { break }
            if character == "#", position > start, " \t".unicodeScalars.contains(characters[position - 1]) { break }
            position += 1
        }
        return characters[start..<position].string.trimmingTrailingSpaces()
    }

    /// `"…"` with YAML's escapes, or `'…'` with `''` for a quote; line breaks fold to spaces.
    mutating func quoted() throws -> String {
        let quote = characters[position]
        position += 1
        var result = ""
        var pendingBreaks = 0
        func flushBreaks() {
            if pendingBreaks == 1 { result += " " } else if pendingBreaks > 1 { result += String(repeating: "\n", count: pendingBreaks - 1) }
            pendingBreaks = 0
        }
        while true {
            guard let character = peek else { throw Incomplete(message: "found unexpected end of stream in a quoted scalar") }
            position += 1
            if character == "\n" {
                while result.last == " " || result.last == "\t" { result.removeLast() }
                pendingBreaks += 1
                while let next = peek, next == " " || next == "\t" { position += 1 }
                continue
            }
            flushBreaks()
            if character == quote {
                if quote == "'", peek == "'" {
                    position += 1
                    result.append("'")
                    continue
                }
                return result
            }
            guard quote == "\"", character == "\\" else {
                result.unicodeScalars.append(character)
                continue
            }
            guard let escape = peek else { throw Incomplete(message: "found unexpected end of stream in a quoted scalar") }
            position += 1
            switch escape {
            case "n": result += "\n"
            case "t", "\t": result += "\t"
            case "r": result += "\r"
            case "0": result += "\0"
            case "a": result += "\u{07}"
            case "b": result += "\u{08}"
            case "e": result += "\u{1B}"
            case "f": result += "\u{0C}"
            case "v": result += "\u{0B}"
            case " ": result += " "
            case "\"", "\\", "/": result.unicodeScalars.append(escape)
            case "N": result += "\u{85}"
            case "_": result += "\u{A0}"
            case "L": result += "\u{2028}"
            case "P": result += "\u{2029}"
            case "\n":
                while let next = peek, next == " " || next == "\t" { position += 1 }
            case "x", "u", "U":
                let count = escape == "x" ? 2 : escape == "u" ? 4 : 8
                guard position + count <= characters.count, let code = UInt32(characters[position..<(position + count)].string, radix: 16),
                    let scalar = Unicode.Scalar(code)
                else { throw RegoError(.parseError, "yaml: found invalid escape sequence in a double-quoted scalar") }
                position += count
                result.unicodeScalars.append(scalar)
            default:
                throw RegoError(.parseError, "yaml: found unknown escape character '\(escape)' in a double-quoted scalar")
            }
        }
    }
}

enum YAMLWriter {
    static func write(_ value: Value, indent: Int, into out: inout String) {
        let pad = String(repeating: " ", count: indent)
        switch value {
        case .object(let fields) where !fields.isEmpty:
            for key in fields.keys.sorted() {
                let name: String
                if case .string(let text) = key { name = text } else { name = key.jsonText }
                out += pad + scalar(.string(name)) + ":"
                let item = fields[key]!
                if isBlock(item) {
                    out += "\n"
                    if case .object = item { write(item, indent: indent + 2, into: &out) } else { write(item, indent: indent, into: &out) }
                } else {
                    out += " " + scalar(item) + "\n"
                }
            }
        case .array, .set:
            let items: [Value]
            if case .array(let list) = value { items = list } else if case .set(let set) = value { items = set.sorted() } else { items = [] }
            guard !items.isEmpty else {
                out += pad + "[]\n"
                return
            }
            for item in items {
                if isBlock(item) {
                    // The item's first line follows the dash; the rest line up under it.
                    var inner = ""
                    write(item, indent: indent + 2, into: &inner)
                    out += pad + "- " + inner.dropFirst(indent + 2)
                } else {
                    out += pad + "- " + scalar(item) + "\n"
                }
            }
        default:
            out += pad + scalar(value) + "\n"
        }
    }

    static func isBlock(_ value: Value) -> Bool {
        switch value {
        case .object(let fields): return !fields.isEmpty
        case .array(let items): return !items.isEmpty
        case .set(let items): return !items.isEmpty
        default: return false
        }
    }

    static func scalar(_ value: Value) -> String {
        switch value {
        case .object: return "{}"
        case .array, .set: return "[]"
        case .string(let text):
            return needsQuotes(text) ? Value.string(text).jsonText : text
        default:
            return value.jsonText
        }
    }

    /// Whether a string would read back as something else, or not at all, without quotes.
    static func needsQuotes(_ text: String) -> Bool {
        guard let first = text.first, let last = text.last else { return true }
        if case .string = YAMLReader.resolve(text) {} else { return true }
        if "-?:,[]{}#&*!|>'\"%@` \t".contains(first) || last == " " || last == "\t" || last == ":" { return true }
        if text.contains(": ") || text.contains(" #") || text.contains("\t") { return true }
        return text.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F || $0.value == 0x85 || $0.value == 0x2028 || $0.value == 0x2029 }
    }
}

extension Sequence where Element == Unicode.Scalar {
    var string: String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: self)
        return String(view)
    }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var result = self
        while result.last == " " || result.last == "\t" { result.removeLast() }
        return result
    }
}
