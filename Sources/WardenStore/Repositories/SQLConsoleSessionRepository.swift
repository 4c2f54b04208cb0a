import Foundation
import SQLKit
import WardenCore

struct SQLConsoleSessionRepository: ConsoleSessionRepository {
    let db: any SQLDatabase

    func insert(_ session: ConsoleSession) async throws {
        try await db.raw(
            """
            INSERT INTO console_sessions (token_hash, api_key_id, csrf, created_at, expires_at)
            VALUES (\(bind: session.tokenHash), \(bind: session.apiKeyID.uuidString.lowercased()), \(bind: session.csrf),
                    \(bind: Timestamp.format(session.createdAt)), \(bind: Timestamp.format(session.expiresAt)))
            """
        ).run()
    }

    func find(tokenHash: String) async throws -> ConsoleSession? {
        guard
            let row = try await db.raw(
                "SELECT token_hash, api_key_id, csrf, created_at, expires_at FROM console_sessions WHERE token_hash = \(bind: tokenHash)"
            ).first()
        else { return nil }
        return ConsoleSession(
            tokenHash: try row.decode(column: "token_hash", as: String.self), apiKeyID: try row.decodeUUID("api_key_id"),
            csrf: try row.decode(column: "csrf", as: String.self), createdAt: try row.decodeDate("created_at"),
            expiresAt: try row.decodeDate("expires_at"))
    }

    func delete(tokenHash: String) async throws {
        try await db.raw("DELETE FROM console_sessions WHERE token_hash = \(bind: tokenHash)").run()
    }

    func deleteExpired(before now: Date) async throws -> Int {
        try await db.raw("DELETE FROM console_sessions WHERE expires_at < \(bind: Timestamp.format(now)) RETURNING token_hash").all().count
    }
}
