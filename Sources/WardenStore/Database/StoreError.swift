import PostgresNIO
import SQLiteNIO
public import WardenCore

/// Storage failures, described without SQL, binds or credentials.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public let message: String

    public init(message: String) {
        self.message = message
    }

    public var description: String { message }

    static func cannotOpen(_ message: String) -> StoreError { StoreError(message: message) }

    /// A human description of a driver error. PostgresNIO hides details in `description` on purpose
    /// (they may hold query text); the server's message and SQLSTATE are safe to show.
    public static func describe(_ error: any Error) -> String {
        if let error = error as? PSQLError {
            if let message = error.serverInfo?[.message] {
                let state = error.serverInfo?[.sqlState].map { " (SQLSTATE \($0))" } ?? ""
                return message + state
            }
            if let underlying = error.underlying { return "\(error.code): \(underlying)" }
            return "\(error.code)"
        }
        if let error = error as? SQLiteError { return error.message }
        return "\(error)"
    }

    /// Whether the error is a unique-constraint violation in either database.
    static func isUniqueViolation(_ error: any Error) -> Bool {
        if let error = error as? PSQLError { return error.serverInfo?[.sqlState] == "23505" }
        if let error = error as? SQLiteError {
            return error.reason == .constraintUniqueFailed || error.reason == .constraintPrimaryKeyFailed
                || (error.reason == .constraint && error.message.contains("UNIQUE"))
        }
        return false
    }
}
