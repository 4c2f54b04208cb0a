import Foundation
import SQLKit
import WardenCore

struct SQLLedgerRepository: LedgerRepository {
    let db: any SQLDatabase

    static let columns = ["tenant_id", "seq", "kind", "record_id", "at", "body", "prev_hash", "hash"]
    static let columnList = SQLText.columnList(columns)
    /// Rows per INSERT (the decision log writes up to 1,000 at once): 4,000 binds, below both databases' limits.
    static let rowsPerStatement = 500

    func append(tenantID: UUID, _ items: [LedgerItem]) async throws {
        guard !items.isEmpty else { return }
        let tenant = tenantID.uuidString.lowercased()
        // The head, locked (PostgreSQL) until the transaction ends; SQLite has one writer.
        let lock = db.dialect.name == "postgresql" ? " FOR UPDATE" : ""
        guard let row = try await db.raw("SELECT ledger_seq, ledger_head FROM tenants WHERE id = \(bind: tenant)\(unsafeRaw: lock)").first()
        else { throw WardenError(.tenantNotFound, "tenant not found") }
        let (entries, head) = LedgerChain.link(
            items, tenantID: tenantID, after: try row.decode(column: "ledger_seq", as: Int64.self),
            previous: try row.decode(column: "ledger_head", as: String.self))
        var start = 0
        while start < entries.count {
            let chunk = entries[start..<min(start + Self.rowsPerStatement, entries.count)]
            var query = SQLQueryString("INSERT INTO ledger_entries (\(unsafeRaw: Self.columnList)) VALUES ")
            for (index, entry) in chunk.enumerated() {
                if index > 0 { query.appendLiteral(", ") }
                let values: [any Encodable & Sendable] = [
                    tenant, entry.sequence, entry.kind.rawValue, entry.recordID, Timestamp.format(entry.at), entry.body, entry.previousHash,
                    entry.hash,
                ]
                query.appendLiteral("(")
                query.appendInterpolation(binds: values)
                query.appendLiteral(")")
            }
            try await db.raw(query).run()
            start += chunk.count
        }
        try await db.raw("UPDATE tenants SET ledger_seq = \(bind: head.sequence), ledger_head = \(bind: head.hash) WHERE id = \(bind: tenant)")
            .run()
    }

    func entries(tenantID: UUID, after sequence: Int64, limit: Int) async throws -> [LedgerEntry] {
        try await db.raw(
            """
            SELECT \(unsafeRaw: Self.columnList) FROM ledger_entries
            WHERE tenant_id = \(bind: tenantID.uuidString.lowercased()) AND seq > \(bind: sequence) ORDER BY seq LIMIT \(literal: limit)
            """
        ).all().map(Self.decode)
    }

    func entries(tenantID: UUID, after sequence: Int64, from: Date?, to: Date?, limit: Int) async throws -> [LedgerEntry] {
        var query = SQLQueryString(
            "SELECT \(unsafeRaw: Self.columnList) FROM ledger_entries WHERE tenant_id = \(bind: tenantID.uuidString.lowercased()) AND seq > \(bind: sequence)"
        )
        if let from { query.appendInterpolation(" AND at >= \(bind: Timestamp.format(from))" as SQLQueryString) }
        if let to { query.appendInterpolation(" AND at < \(bind: Timestamp.format(to))" as SQLQueryString) }
        query.appendInterpolation(" ORDER BY seq LIMIT \(literal: limit)" as SQLQueryString)
        return try await db.raw(query).all().map(Self.decode)
    }

    func head(tenantID: UUID) async throws -> (sequence: Int64, hash: String) {
        guard let row = try await db.raw("SELECT ledger_seq, ledger_head FROM tenants WHERE id = \(bind: tenantID.uuidString.lowercased())").first()
        else { throw WardenError(.tenantNotFound, "tenant not found") }
        return (try row.decode(column: "ledger_seq", as: Int64.self), try row.decode(column: "ledger_head", as: String.self))
    }

    func insert(_ checkpoint: LedgerCheckpoint) async throws {
        let values: [any Encodable & Sendable] = [
            checkpoint.tenantID.uuidString.lowercased(), checkpoint.sequence, checkpoint.hash, checkpoint.keyID,
            Data(checkpoint.signature).base64EncodedString(), Timestamp.format(checkpoint.signedAt),
        ]
        do {
            try await db.raw("INSERT INTO ledger_checkpoints (tenant_id, seq, hash, key_id, signature, signed_at) VALUES (\(binds: values))")
                .run()
        } catch  where StoreError.isUniqueViolation(error) {
            throw WardenError(.ledgerCheckpointExists, "entry \(checkpoint.sequence) is already checkpointed")
        }
    }

    func checkpoints(tenantID: UUID) async throws -> [LedgerCheckpoint] {
        try await db.raw(
            """
            SELECT tenant_id, seq, hash, key_id, signature, signed_at FROM ledger_checkpoints
            WHERE tenant_id = \(bind: tenantID.uuidString.lowercased()) ORDER BY seq
            """
        ).all().map(Self.decodeCheckpoint)
    }

    func heads() async throws -> [LedgerHeadState] {
        try await db.raw(
            """
            SELECT t.id AS tenant_id, t.ledger_seq, t.ledger_head, c.seq AS checkpoint_seq, c.signed_at AS checkpoint_at
            FROM tenants t LEFT JOIN ledger_checkpoints c
              ON c.tenant_id = t.id AND c.seq = (SELECT MAX(seq) FROM ledger_checkpoints WHERE tenant_id = t.id)
            """
        ).all().map { row in
            LedgerHeadState(
                tenantID: try row.decodeUUID("tenant_id"), sequence: try row.decode(column: "ledger_seq", as: Int64.self),
                hash: try row.decode(column: "ledger_head", as: String.self),
                checkpointSequence: try row.decode(column: "checkpoint_seq", as: Int64?.self),
                checkpointAt: try row.decodeOptionalDate("checkpoint_at"))
        }
    }

    func entry(tenantID: UUID, sequence: Int64) async throws -> LedgerEntry? {
        try await db.raw(
            """
            SELECT \(unsafeRaw: Self.columnList) FROM ledger_entries
            WHERE tenant_id = \(bind: tenantID.uuidString.lowercased()) AND seq = \(bind: sequence)
            """
        ).first().map(Self.decode)
    }

    /// There is no index by record id (one more write per decision): the entry is found by time
    /// instead. An entry carries its record's own time, and entries are appended within moments of
    /// it, so times along the sequence are in order but for the append delay. Two binary searches over
    /// the sequence (primary-key lookups) bound the entries within `slack` of `at`, and one range scan
    /// of the primary key looks for the record there; the slack widens (2 s, 30 s, 5 min, 1 h) until
    /// it is found, so a busy chain is scanned over seconds of traffic, not minutes.
    func locate(tenantID: UUID, kind: LedgerKind, recordID: String, near at: Date) async throws -> LedgerEntry? {
        for slack: TimeInterval in [2, 30, 300, 3600] {
            if let entry = try await locate(tenantID: tenantID, kind: kind, recordID: recordID, near: at, slack: slack) { return entry }
        }
        return nil
    }

    func locate(tenantID: UUID, kind: LedgerKind, recordID: String, near at: Date, slack: TimeInterval) async throws -> LedgerEntry? {
        let tenant = tenantID.uuidString.lowercased()
        let head = try await head(tenantID: tenantID).sequence
        guard head > 0 else { return nil }
        // The first sequence whose entry is at or after `time` (head + 1 if none).
        func firstAtOrAfter(_ time: Date) async throws -> Int64 {
            let text = Timestamp.format(time)
            var low: Int64 = 1
            var high = head + 1
            while low < high {
                let middle = low + (high - low) / 2
                let row = try await db.raw("SELECT at FROM ledger_entries WHERE tenant_id = \(bind: tenant) AND seq = \(bind: middle)").first()
                let entryAt = try row?.decode(column: "at", as: String.self) ?? ""
                if entryAt < text { low = middle + 1 } else { high = middle }
            }
            return low
        }
        let from = try await firstAtOrAfter(at.addingTimeInterval(-slack))
        let to = try await firstAtOrAfter(at.addingTimeInterval(slack))
        return try await db.raw(
            """
            SELECT \(unsafeRaw: Self.columnList) FROM ledger_entries
            WHERE tenant_id = \(bind: tenant) AND seq >= \(bind: from) AND seq <= \(bind: to)
              AND record_id = \(bind: recordID) AND kind = \(bind: kind.rawValue)
            ORDER BY seq LIMIT 1
            """
        ).first().map(Self.decode)
    }

    func checkpoint(tenantID: UUID, covering sequence: Int64) async throws -> LedgerCheckpoint? {
        try await db.raw(
            """
            SELECT tenant_id, seq, hash, key_id, signature, signed_at FROM ledger_checkpoints
            WHERE tenant_id = \(bind: tenantID.uuidString.lowercased()) AND seq >= \(bind: sequence) ORDER BY seq LIMIT 1
            """
        ).first().map(Self.decodeCheckpoint)
    }

    static func decodeCheckpoint(_ row: any SQLRow) throws -> LedgerCheckpoint {
        guard let signature = Data(base64Encoded: try row.decode(column: "signature", as: String.self)) else {
            throw StoreError(message: "ledger_checkpoints.signature is not valid base64")
        }
        return LedgerCheckpoint(
            tenantID: try row.decodeUUID("tenant_id"), sequence: try row.decode(column: "seq", as: Int64.self),
            hash: try row.decode(column: "hash", as: String.self), keyID: try row.decode(column: "key_id", as: String.self),
            signature: Array(signature), signedAt: try row.decodeDate("signed_at"))
    }

    func currentDigests(tenantID: UUID, kind: LedgerKind, recordIDs: [String]) async throws -> [String: String]? {
        let source: (table: String, key: String, columns: String, item: (any SQLRow) throws -> LedgerItem)
        switch kind {
        case .decision:
            source = ("decisions", "id", SQLText.columnList(SQLDecisionRepository.columns), { .decision(try SQLDecisionRepository.decode($0)) })
        case .runStep: source = ("run_steps", "id", SQLRunRepository.stepColumnList, { .step(try SQLRunRepository.decodeStep($0)) })
        case .note: source = ("run_annotations", "id", SQLRunRepository.annotationColumns, { .annotation(try SQLRunRepository.decodeAnnotation($0)) })
        case .compensation:
            source = ("run_compensations", "id", SQLRunRepository.compensationColumns, { .compensation(try SQLRunRepository.decodeCompensation($0)) })
        case .replay: source = ("run_replays", "run_id", SQLRunRepository.replayColumns, { .replay(try SQLRunRepository.decodeReplay($0)) })
        case .audit: source = ("audit_events", "id", SQLAuditEventRepository.columnList, { .audit(try SQLAuditEventRepository.decode($0)) })
        case .approval, .run: return nil
        }
        var digests: [String: String] = [:]
        var start = 0
        while start < recordIDs.count {
            let chunk = recordIDs[start..<min(start + 500, recordIDs.count)]
            // By primary key alone: with `tenant_id = ?` too, a planner may walk the tenant's index
            // instead, reading every row of the tenant for each chunk. The tenant is checked here.
            var query = SQLQueryString("SELECT \(unsafeRaw: source.columns) FROM \(unsafeRaw: source.table) WHERE \(unsafeRaw: source.key) IN (")
            query.appendInterpolation(binds: Array(chunk))
            query.appendLiteral(")")
            let tenant = tenantID.uuidString.lowercased()
            for row in try await db.raw(query).all() where try row.decode(column: "tenant_id", as: String.self) == tenant {
                let item = try source.item(row)
                digests[item.recordID] = item.bodyDigest
            }
            start += chunk.count
        }
        return digests
    }

    static func decode(_ row: any SQLRow) throws -> LedgerEntry {
        guard let kind = LedgerKind(rawValue: try row.decode(column: "kind", as: String.self)) else {
            throw StoreError(message: "ledger_entries holds an unknown kind")
        }
        return LedgerEntry(
            tenantID: try row.decodeUUID("tenant_id"), sequence: try row.decode(column: "seq", as: Int64.self), kind: kind,
            recordID: try row.decode(column: "record_id", as: String.self), at: try row.decodeDate("at"),
            body: try row.decode(column: "body", as: String.self), previousHash: try row.decode(column: "prev_hash", as: String.self),
            hash: try row.decode(column: "hash", as: String.self))
    }
}
