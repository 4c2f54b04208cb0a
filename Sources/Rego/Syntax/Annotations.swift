import Foundation

/// `# METADATA` comment blocks: YAML in comments just before a `package` or a rule, read the way OPA
/// reads them and returned by `rego.metadata.rule()` and `rego.metadata.chain()`.
enum Annotations {
    static let scopes: Set<String> = ["rule", "document", "package", "subpackages"]

    /// Reads every block of `source` and attaches each to the package or rule that follows it.
    static func attach(to module: inout Module, source: String) throws(RegoError) {
        let comments = try Lexer.comments(source, file: module.file)
        let lines = source.split(separator: "\n", omittingEmptySubsequences: false)
        let packageLine = lines.firstIndex { $0.drop(while: { $0 == " " || $0 == "\t" }).hasPrefix("package ") }.map { $0 + 1 } ?? 1
        var index = 0
        while index < comments.count {
            let comment = comments[index]
            guard comment.text.trimmingCharacters(in: .whitespaces) == "METADATA" else {
                index += 1
                continue
            }
            // The block: the comments on the lines right after, with one leading space removed.
            var yaml: [String] = []
            var last = comment.line
            index += 1
            while index < comments.count, comments[index].line == last + 1 {
                var text = Substring(comments[index].text)
                if text.hasPrefix(" ") { text = text.dropFirst() }
                yaml.append(String(text))
                last = comments[index].line
                index += 1
            }
            let location = Location(file: module.file, line: comment.line, column: comment.column)
            let parsed: Value
            do {
                parsed = try Value.parseYAML(yaml.joined(separator: "\n"))
            } catch {
                throw RegoError(.parseError, "yaml: \(error.message)", location: location)
            }
            if last < packageLine {
                module.packageAnnotations.append(try normalized(parsed, defaultScope: "package", location: location))
            } else if let target = module.rules.firstIndex(where: { $0.location.line > last }) {
                module.rules[target].annotations = try normalized(parsed, defaultScope: "rule", location: location)
            } else {
                throw RegoError(.parseError, "annotation scope 'rule' must be applied to rule", location: location)
            }
        }
    }

    /// OPA's shape: `scope` always present, authors as `{name, email}`, related resources as `{ref, description}`.
    static func normalized(_ value: Value, defaultScope: String, location: Location) throws(RegoError) -> Value {
        var fields: [Value: Value] = [:]
        switch value {
        case .object(let given): fields = given
        case .null: break
        default: throw RegoError(.parseError, "annotations must be a YAML mapping", location: location)
        }
        let known: Set<String> = [
            "scope", "title", "description", "related_resources", "authors", "organizations", "schemas", "entrypoint", "custom",
        ]
        for key in fields.keys {
            guard case .string(let name) = key, known.contains(name) else {
                throw RegoError(.parseError, "invalid annotation key \(key.jsonText)", location: location)
            }
        }
        // An entry point without a scope documents the whole rule set of its name, as in OPA.
        let scope = fields[.string("scope")] ?? .string(fields[.string("entrypoint")] == .bool(true) ? "document" : defaultScope)
        guard case .string(let scopeName) = scope, scopes.contains(scopeName) else {
            throw RegoError(.parseError, "invalid annotation scope \(scope.jsonText)", location: location)
        }
        fields[.string("scope")] = scope
        if let authors = fields[.string("authors")] {
            let list: [Value]
            if case .array(let items) = authors { list = items } else { list = [authors] }
            fields[.string("authors")] = .array(
                try list.map { item throws(RegoError) -> Value in
                    switch item {
                    case .string(let text): return author(text)
                    case .object(let author) where author[.string("name")] != nil || author[.string("email")] != nil: return item
                    default: throw RegoError(.parseError, "invalid authors annotation", location: location)
                    }
                })
        }
        if let resources = fields[.string("related_resources")] {
            guard case .array(let items) = resources else {
                throw RegoError(.parseError, "invalid related-resources annotation", location: location)
            }
            fields[.string("related_resources")] = .array(
                items.map { item in
                    if case .string(let ref) = item { return .object([.string("ref"): .string(ref)]) }
                    return item
                })
        }
        return .object(fields)
    }

    /// `Name Surname <email>` as OPA splits it.
    static func author(_ text: String) -> Value {
        var parts = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        var result: [Value: Value] = [:]
        if let trailing = parts.last, trailing.count >= 2, trailing.hasPrefix("<"), trailing.hasSuffix(">") {
            result[.string("email")] = .string(String(trailing.dropFirst().dropLast()))
            parts.removeLast()
        }
        if !parts.isEmpty { result[.string("name")] = .string(parts.joined(separator: " ")) }
        return .object(result)
    }
}
