public import Foundation

/// One page of a list, and the cursor to the next page (`nil` on the last page).
public struct Page<Item: Sendable>: Sendable {
    public var items: [Item]
    public var nextCursor: String?

    public init(items: [Item], nextCursor: String?) {
        self.items = items
        self.nextCursor = nextCursor
    }
}

/// A keyset position in a list ordered by (created_at, id). Opaque to clients (base64url).
public struct Cursor: Sendable, Equatable {
    public var createdAt: String
    public var id: String

    public init(createdAt: String, id: String) {
        self.createdAt = createdAt
        self.id = id
    }

    public var encoded: String { Base64URL.encode(Array("\(createdAt)|\(id)".utf8)) }

    public static func decode(_ text: String) throws(WardenError) -> Cursor {
        guard text.utf8.count <= 200, let bytes = Base64URL.decode(text), let plain = String(validating: bytes, as: UTF8.self)
        else { throw WardenError(.invalidCursor, "cursor is not valid; pass the next_cursor from a previous page") }
        let parts = plain.split(separator: "|", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, Timestamp.parse(String(parts[0])) != nil, UUID(uuidString: String(parts[1])) != nil else {
            throw WardenError(.invalidCursor, "cursor is not valid; pass the next_cursor from a previous page")
        }
        return Cursor(createdAt: String(parts[0]), id: String(parts[1]))
    }
}

/// Paging parameters after validation.
public struct PageRequest: Sendable, Equatable {
    public static let defaultLimit = 50
    public static let maximumLimit = 500

    public var limit: Int
    public var after: Cursor?

    public init(limit: Int = PageRequest.defaultLimit, after: Cursor? = nil) {
        self.limit = limit
        self.after = after
    }

    /// Validates raw query parameters.
    public init(limit: String?, cursor: String?) throws(WardenError) {
        var value = PageRequest.defaultLimit
        if let limit {
            guard let parsed = Int(limit), (1...PageRequest.maximumLimit).contains(parsed) else {
                throw WardenError(.invalidField, "limit must be an integer from 1 to \(PageRequest.maximumLimit)")
            }
            value = parsed
        }
        self.limit = value
        self.after = try cursor.map { (text: String) throws(WardenError) in try Cursor.decode(text) }
    }
}
