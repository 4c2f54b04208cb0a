@preconcurrency import AsyncKit
public import Logging
import NIOCore
import NIOPosix
import PostgresKit
public import SQLKit
import SQLiteKit
public import WardenCore

/// An open database: SQLite through one serialized writing connection (with group commit) and two
/// read-only connections, or PostgreSQL through a pool.
///
/// SQLite allows one writer at a time anyway; funnelling every write through one connection and one
/// lock keeps transactions from interleaving and avoids `SQLITE_BUSY` altogether. Write transactions
/// that queue up meanwhile are committed together (see ``SQLiteGroupCommit``), so one fsync serves
/// many. In WAL mode readers never wait for the writer, so reads have connections of their own.
public final class Database: Sendable {
    public enum Dialect: String, Sendable {
        case sqlite
        case postgres
    }

    private enum Backend: Sendable {
        case sqlite(SQLiteConnection, AsyncLock, writer: SQLiteGroupCommit, readers: SQLiteReaders)
        case postgres(EventLoopGroupConnectionPool<PostgresConnectionSource>, schema: String?, PostgresConnection.Configuration)
    }

    public let dialect: Dialect
    public let location: DatabaseLocation
    private let backend: Backend
    private let logger: Logger
    /// Sessions (PostgreSQL: the pool; SQLite: the writing connection's lock) and SQLite's readers.
    private let sessionMetrics: PoolMetrics
    private let readMetrics: PoolMetrics?

    private init(dialect: Dialect, location: DatabaseLocation, backend: Backend, logger: Logger, perLoop: Int = postgresConnectionsPerLoop) {
        switch backend {
        case .sqlite(_, _, _, let readers):
            sessionMetrics = PoolMetrics(pool: "sqlite_session", size: 1)
            readMetrics = PoolMetrics(pool: "sqlite_read", size: readers.count)
        case .postgres:
            sessionMetrics = PoolMetrics(
                pool: "postgres",
                size: perLoop * Self.eventLoops)
            readMetrics = nil
        }
        self.dialect = dialect
        self.location = location
        self.backend = backend
        self.logger = logger
    }

    /// Opens the database. For SQLite this creates the file and sets WAL mode; for PostgreSQL it
    /// checks that a connection can be made, so a wrong password or host fails here with a clear message.
    ///
    /// `postgresPoolSize` caps PostgreSQL connections of this process (default: 4 per event loop,
    /// that is per core); the pool keeps one per event loop at least, so the cap is rounded up to a
    /// multiple of the core count.
    public static func open(_ location: DatabaseLocation, postgresPoolSize: Int? = nil, logger: Logger) async throws -> Database {
        switch location {
        case .sqlite(let path):
            let connection: SQLiteConnection
            do {
                connection = try await SQLiteConnection.open(
                    storage: .file(path: path), threadPool: .singleton, logger: logger, on: MultiThreadedEventLoopGroup.singleton.any()
                )
            } catch {
                throw StoreError.cannotOpen("cannot open SQLite database at \(path): \(StoreError.describe(error))")
            }
            do {
                // WAL lets readers proceed during writes; synchronous=FULL makes each commit durable on power loss.
                for pragma in ["PRAGMA journal_mode = WAL", "PRAGMA synchronous = FULL", "PRAGMA foreign_keys = ON", "PRAGMA busy_timeout = 5000"] {
                    _ = try await connection.query(pragma)
                }
            } catch {
                try? await connection.close()
                throw StoreError.cannotOpen("cannot configure SQLite database at \(path): \(StoreError.describe(error))")
            }
            var readers: [SQLiteConnection] = []
            do {
                for _ in 0..<2 {
                    let reader = try await SQLiteConnection.open(
                        storage: .file(path: path), threadPool: .singleton, logger: logger, on: MultiThreadedEventLoopGroup.singleton.any())
                    readers.append(reader)
                    // A read session that tries to write fails loudly instead of racing the writer.
                    for pragma in ["PRAGMA query_only = ON", "PRAGMA busy_timeout = 5000"] { _ = try await reader.query(pragma) }
                }
            } catch {
                for reader in readers { try? await reader.close() }
                try? await connection.close()
                throw StoreError.cannotOpen("cannot open SQLite database at \(path) for reading: \(StoreError.describe(error))")
            }
            let lock = AsyncLock()
            return Database(
                dialect: .sqlite, location: location,
                backend: .sqlite(
                    connection, lock, writer: SQLiteGroupCommit(connection: connection, lock: lock), readers: SQLiteReaders(readers)),
                logger: logger)
        case .postgres(let url, let schema):
            var configuration: SQLPostgresConfiguration
            do {
                configuration = try SQLPostgresConfiguration(url: url)
            } catch {
                throw StoreError.cannotOpen("database URL is not a valid PostgreSQL URL")
            }
            configuration.coreConfiguration.options.connectTimeout = .seconds(5)
            if let schema { configuration.searchPath = [schema] }
            let perLoop = postgresPoolSize.map { max(1, ($0 + Self.eventLoops - 1) / Self.eventLoops) } ?? Self.postgresConnectionsPerLoop
            let pool = EventLoopGroupConnectionPool(
                source: PostgresConnectionSource(sqlConfiguration: configuration),
                maxConnectionsPerEventLoop: perLoop,
                requestTimeout: .seconds(5),
                logger: logger,
                on: MultiThreadedEventLoopGroup.singleton
            )
            let database = Database(
                dialect: .postgres, location: location, backend: .postgres(pool, schema: schema, configuration.coreConfiguration), logger: logger,
                perLoop: perLoop)
            do {
                try await database.ping()
                if let schema {
                    try await database.withSession { db in
                        try await db.raw("CREATE SCHEMA IF NOT EXISTS \(ident: schema)").run()
                    }
                }
            } catch {
                try? await pool.shutdownAsync()
                throw StoreError.cannotOpen("cannot connect to PostgreSQL at \(location): \(StoreError.describe(error))")
            }
            return database
        }
    }

    static let postgresConnectionsPerLoop = 4
    static let eventLoops = MultiThreadedEventLoopGroup.singleton.makeIterator().reduce(0) { count, _ in count + 1 }

    /// Runs `body` with one session (one connection) to the database.
    public func withSession<Result: Sendable>(
        _ body: @escaping @Sendable (any SQLDatabase) async throws -> Result
    ) async throws -> Result {
        switch backend {
        case .sqlite(let connection, let lock, _, _):
            let db = connection.sql(queryLogLevel: nil)
            return try await sessionMetrics.measure(acquire: { held in try await lock.withLock { try await held(db) } }, body: body)
        case .postgres(let pool, _, _):
            let logger = self.logger
            return try await sessionMetrics.measure(
                acquire: { held in try await pool.database(logger: logger).sql(queryLogLevel: nil).withSession { db in try await held(db) } },
                body: body)
        }
    }

    /// Runs `body` with a session that only reads: on SQLite one of the read-only connections, which
    /// see every committed write and never wait for the writer; on PostgreSQL a pooled connection.
    public func read<Result: Sendable>(
        _ body: @escaping @Sendable (any SQLDatabase) async throws -> Result
    ) async throws -> Result {
        switch backend {
        case .sqlite(_, _, _, let readers):
            guard let readMetrics else { return try await readers.withReader(body) }
            return try await readMetrics.measure(acquire: { held in try await readers.withReader(held) }, body: body)
        case .postgres:
            return try await withSession(body)
        }
    }

    /// Runs `body` in one transaction: committed if it returns, rolled back if it throws. On SQLite
    /// it may share its commit with other transactions queued at the same time; it runs alone in its
    /// own savepoint, so its failure rolls back only its own writes, and it returns only once the
    /// commit is durable.
    public func transaction<Result: Sendable>(
        _ body: @escaping @Sendable (any SQLDatabase) async throws -> Result
    ) async throws -> Result {
        if case .sqlite(_, _, let writer, _) = backend { return try await writer.transaction(body) }
        return try await withSession { db in
            try await db.raw("BEGIN").run()
            do {
                let result = try await body(db)
                try await db.raw("COMMIT").run()
                return result
            } catch {
                do {
                    try await db.raw("ROLLBACK").run()
                } catch {
                    // The connection is in an unknown state; the original error matters more.
                }
                throw error
            }
        }
    }

    /// A cheap round trip that fails when the database is unreachable.
    public func ping() async throws {
        try await withSession { db in
            _ = try await db.raw("SELECT 1 AS one").all()
        }
    }

    /// The channel replicas of this database (and schema) announce their changes on.
    public var changeChannel: String {
        guard case .postgres(_, let schema?, _) = backend else { return "warden_changes" }
        return "warden_changes_\(schema)".lowercased().filter { $0.isLetter || $0.isNumber || $0 == "_" }
    }

    /// PostgreSQL only: calls `receive` with the payload of every notification on `channel`, on a
    /// connection of its own, until cancelled or the connection fails (then it throws; the caller
    /// reconnects). `ready` is called once listening has begun.
    public func listen(channel: String, ready: @Sendable () async -> Void, _ receive: @Sendable (String) async -> Void) async throws {
        guard case .postgres(_, _, let configuration) = backend else { return }
        let connection = try await PostgresConnection.connect(
            on: MultiThreadedEventLoopGroup.singleton.any(), configuration: configuration, id: 0, logger: logger)
        // The notification stream ends only when its connection does: cancelling closes it.
        do {
            try await withTaskCancellationHandler {
                try await connection.listen(on: channel) { notifications in
                    await ready()
                    for try await notification in notifications { await receive(notification.payload) }
                }
            } onCancel: {
                let closing: EventLoopFuture<Void> = connection.close()
                _ = closing
            }
        } catch {
            try? await connection.close()
            throw error
        }
        try? await connection.close()
    }

    /// PostgreSQL only: `NOTIFY channel, payload`, delivered to every listener (this process's too).
    public func notify(channel: String, payload: String) async throws {
        guard dialect == .postgres else { return }
        try await withSession { db in _ = try await db.raw("SELECT pg_notify(\(bind: channel), \(bind: payload))").all() }
    }

    public func close() async {
        switch backend {
        case .sqlite(let connection, let lock, _, let readers):
            _ = try? await lock.withLock { try await connection.close() }
            await readers.close()
        case .postgres(let pool, _, _):
            try? await pool.shutdownAsync()
        }
    }
}
