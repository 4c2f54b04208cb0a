public import Foundation
import SQLKit
public import WardenCore

/// Applies and reverts numbered migrations, recording them in `schema_migrations`.
///
/// Each migration runs in its own transaction together with its bookkeeping row; on PostgreSQL a
/// transaction-scoped advisory lock makes replicas that start together apply each migration once.
public struct Migrator: Sendable {
    public struct Status: Sendable, Equatable {
        public var version: Int
        public var name: String
        public var appliedAt: String?
    }

    let database: Database
    let migrations: [Migration]
    let clock: any WallClock

    /// An arbitrary constant naming Warden's migration lock among other advisory locks.
    static let advisoryLockKey: Int64 = 0x5741_5244_454E  // "WARDEN"

    public init(database: Database, migrations: [Migration] = Migration.all, clock: any WallClock = SystemClock()) {
        self.database = database
        self.migrations = migrations.sorted { $0.version < $1.version }
        self.clock = clock
    }

    public var latestVersion: Int { migrations.last?.version ?? 0 }

    /// The highest applied version, 0 when none.
    public func currentVersion() async throws -> Int {
        try await ensureTable()
        return try await appliedVersions().keys.max() ?? 0
    }

    public func status() async throws -> [Status] {
        try await ensureTable()
        let applied = try await appliedVersions()
        var rows = migrations.map { Status(version: $0.version, name: $0.name, appliedAt: applied[$0.version]) }
        // Versions in the database that this binary does not know (a newer binary applied them).
        for (version, at) in applied where !migrations.contains(where: { $0.version == version }) {
            rows.append(Status(version: version, name: "(unknown to this binary)", appliedAt: at))
        }
        return rows.sorted { $0.version < $1.version }
    }

    /// Applies pending migrations up to `target` (all when `nil`). Returns the versions applied.
    @discardableResult
    public func up(to target: Int? = nil) async throws -> [Int] {
        try await ensureTable()
        let current = try await appliedVersions().keys.max() ?? 0
        if current > latestVersion {
            throw StoreError(message: "database schema version \(current) is newer than this binary knows (\(latestVersion)); upgrade Warden")
        }
        var applied: [Int] = []
        for migration in migrations where migration.version > current && migration.version <= (target ?? .max) {
            let now = Timestamp.format(clock.now())
            let didApply = try await database.transaction { [dialect = database.dialect] db in
                try await Self.lock(db, dialect: dialect)
                // Another replica may have applied it while we waited for the lock.
                let exists =
                    try await db.select().column("version").from("schema_migrations")
                    .where("version", .equal, migration.version).first() != nil
                if exists { return false }
                try await migration.up(db)
                try await db.insert(into: "schema_migrations")
                    .columns("version", "name", "applied_at")
                    .values(SQLBind(migration.version), SQLBind(migration.name), SQLBind(now))
                    .run()
                return true
            }
            if didApply { applied.append(migration.version) }
        }
        return applied
    }

    /// Reverts the newest `steps` applied migrations. Returns the versions reverted.
    @discardableResult
    public func down(steps: Int = 1) async throws -> [Int] {
        try await ensureTable()
        var reverted: [Int] = []
        for _ in 0..<max(0, steps) {
            let current = try await appliedVersions().keys.max() ?? 0
            guard current > 0 else { break }
            guard let migration = migrations.first(where: { $0.version == current }) else {
                throw StoreError(message: "database schema version \(current) is unknown to this binary; cannot revert it")
            }
            try await database.transaction { [dialect = database.dialect] db in
                try await Self.lock(db, dialect: dialect)
                try await migration.down(db)
                try await db.delete(from: "schema_migrations").where("version", .equal, migration.version).run()
            }
            reverted.append(current)
        }
        return reverted
    }

    private func ensureTable() async throws {
        // Under the lock: concurrent CREATE TABLE IF NOT EXISTS can still collide in PostgreSQL's catalog.
        try await database.transaction { [dialect = database.dialect] db in
            try await Self.lock(db, dialect: dialect)
            try await db.create(table: "schema_migrations")
                .ifNotExists()
                .column("version", type: .bigint, .primaryKey(autoIncrement: false))
                .column("name", type: .text, .notNull)
                .column("applied_at", type: .text, .notNull)
                .run()
        }
    }

    private func appliedVersions() async throws -> [Int: String] {
        try await database.withSession { db in
            let rows = try await db.select().columns("version", "applied_at").from("schema_migrations").all()
            var result: [Int: String] = [:]
            for row in rows {
                result[try row.decode(column: "version", as: Int.self)] = try row.decode(column: "applied_at", as: String.self)
            }
            return result
        }
    }

    private static func lock(_ db: any SQLDatabase, dialect: Database.Dialect) async throws {
        guard dialect == .postgres else { return }
        try await db.raw("SELECT pg_advisory_xact_lock(\(bind: advisoryLockKey))").run()
    }
}
