public import SQLKit
public import WardenCore

/// The ``Store`` over a ``Database``: one implementation for SQLite and PostgreSQL.
public struct SQLStore: Store {
    public let database: Database

    public init(database: Database) {
        self.database = database
    }

    public func read<Result: Sendable>(_ body: @escaping @Sendable (Repositories) async throws -> Result) async throws -> Result {
        try await database.read { db in try await body(Self.repositories(db)) }
    }

    public func write<Result: Sendable>(_ body: @escaping @Sendable (Repositories) async throws -> Result) async throws -> Result {
        try await database.transaction { db in try await body(Self.repositories(db)) }
    }

    public func ping() async throws {
        try await database.ping()
    }

    static func repositories(_ db: any SQLDatabase) -> Repositories {
        Repositories(
            tenants: SQLTenantRepository(db: db), apiKeys: SQLAPIKeyRepository(db: db), audit: SQLAuditEventRepository(db: db),
            agents: SQLAgentRepository(db: db), agentTokens: SQLAgentTokenRepository(db: db), tools: SQLToolRepository(db: db),
            events: SQLEventRepository(db: db), decisions: SQLDecisionRepository(db: db), signingKeys: SQLSigningKeyRepository(db: db),
            bundles: SQLBundleRepository(db: db), incidents: SQLIncidentRepository(db: db),
            settings: SQLSystemSettingRepository(db: db), approvals: SQLApprovalRepository(db: db),
            webhooks: SQLWebhookDeliveryRepository(db: db), runs: SQLRunRepository(db: db),
            ledger: SQLLedgerRepository(db: db), provenance: SQLProvenanceRepository(db: db),
            notifications: SQLNotificationRepository(db: db), consoleSessions: SQLConsoleSessionRepository(db: db)
        )
    }
}

/// SQL text written once, for statements on hot paths.
enum SQLText {
    /// `"a", "b", …`: double-quoted identifiers, which SQLite and PostgreSQL both read.
    static func columnList(_ columns: [String]) -> String { columns.map { "\"\($0)\"" }.joined(separator: ", ") }
}

// MARK: - Keyset paging

extension SQLSelectBuilder {
    /// Applies keyset paging on (created_at, id): rows after `cursor` in the given direction, one extra
    /// row fetched to tell whether another page follows.
    func page(_ page: PageRequest, descending: Bool) -> Self {
        if let after = page.after {
            let op: SQLBinaryOperator = descending ? .lessThan : .greaterThan
            self.where { group in
                group.where("created_at", op, after.createdAt)
                    .orWhere { inner in
                        inner.where("created_at", .equal, after.createdAt).where("id", op, after.id)
                    }
            }
        }
        return
            self
            .orderBy("created_at", descending ? .descending : .ascending)
            .orderBy("id", descending ? .descending : .ascending)
            .limit(page.limit + 1)
    }
}

extension Page {
    /// Trims the extra row fetched by `SQLSelectBuilder.page` and makes the next cursor.
    init(fetched: [Item], limit: Int, position: (Item) -> Cursor) {
        if fetched.count > limit {
            let items = Array(fetched.prefix(limit))
            self.init(items: items, nextCursor: items.last.map { position($0).encoded })
        } else {
            self.init(items: fetched, nextCursor: nil)
        }
    }
}
