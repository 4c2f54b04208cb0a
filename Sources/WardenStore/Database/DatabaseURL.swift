public import Foundation
public import WardenCore

/// Where Warden's data lives, parsed from `--database-url` / `WARDEN_DATABASE_URL`.
public enum DatabaseLocation: Sendable, Equatable, CustomStringConvertible {
    /// An SQLite file (created if missing).
    case sqlite(path: String)
    /// A PostgreSQL server. `schema` (from a `schema=` query parameter) keeps Warden's tables in their
    /// own schema, so several installations or test runs can share a database.
    case postgres(url: String, schema: String?)

    public static let defaultSQLitePath = "./warden.db"

    /// Parses `sqlite:///absolute/path.db`, `sqlite://relative.db`, `postgres://…` or `postgresql://…`;
    /// `nil` or empty means the default SQLite file.
    public init(parsing text: String?) throws(WardenError) {
        guard let text, !text.isEmpty else {
            self = .sqlite(path: Self.defaultSQLitePath)
            return
        }
        if text.hasPrefix("sqlite://") {
            let path = String(text.dropFirst("sqlite://".count))
            guard !path.isEmpty else { throw WardenError(.invalidField, "sqlite URL has no file path: use sqlite:///absolute/path.db") }
            self = .sqlite(path: path)
            return
        }
        if text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") {
            guard var components = URLComponents(string: text), components.host?.isEmpty == false else {
                throw WardenError(.invalidField, "database URL is not a valid postgres:// URL")
            }
            var schema: String?
            if let items = components.queryItems {
                schema = items.first(where: { $0.name == "schema" })?.value
                let rest = items.filter { $0.name != "schema" }
                components.queryItems = rest.isEmpty ? nil : rest
            }
            if let schema {
                guard Self.isValidIdentifier(schema) else {
                    throw WardenError(.invalidField, "schema must be letters, digits and underscores, starting with a letter")
                }
            }
            guard let url = components.string else { throw WardenError(.invalidField, "database URL is not a valid postgres:// URL") }
            self = .postgres(url: url, schema: schema)
            return
        }
        throw WardenError(.invalidField, "unsupported database URL: use sqlite:///path.db or postgres://user:password@host:port/database")
    }

    static func isValidIdentifier(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, text.utf8.count <= 63 else { return false }
        guard CharacterSet.letters.contains(first), first.isASCII else { return false }
        return text.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "_") }
    }

    /// A description without the password, safe for logs.
    public var description: String {
        switch self {
        case .sqlite(let path): return "sqlite:\(path)"
        case .postgres(let url, let schema):
            var components = URLComponents(string: url)
            if components?.password != nil { components?.password = "***" }
            let shown = components?.string ?? "postgres://…"
            return schema.map { "\(shown) (schema \($0))" } ?? shown
        }
    }
}
