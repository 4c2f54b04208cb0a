internal import Crypto
public import Foundation

/// What a ledger entry records.
public enum LedgerKind: String, Sendable, Codable, CaseIterable {
    case decision, approval, audit, run, note, compensation, replay
    case runStep = "run_step"
}

/// One link of a tenant's hash chain: a record (or one state of an approval request or a run) as it
/// was written, with the hash of the link before it. Changing, removing or reordering any entry
/// breaks every hash after it.
public struct LedgerEntry: Sendable, Equatable {
    public var tenantID: UUID
    /// 1, 2, 3, … per tenant, without gaps.
    public var sequence: Int64
    public var kind: LedgerKind
    public var recordID: String
    public var at: Date
    /// The record's canonical JSON (sorted keys, no whitespace), exactly as hashed.
    public var body: String
    public var previousHash: String
    public var hash: String

    public init(
        tenantID: UUID, sequence: Int64, kind: LedgerKind, recordID: String, at: Date, body: String, previousHash: String, hash: String
    ) {
        self.tenantID = tenantID
        self.sequence = sequence
        self.kind = kind
        self.recordID = recordID
        self.at = at
        self.body = body
        self.previousHash = previousHash
        self.hash = hash
    }
}

/// A record to add to the chain, with its canonical body already written (so a writer that holds
/// the chain's head only hashes and stores).
public struct LedgerItem: Sendable, Equatable {
    public var kind: LedgerKind
    public var recordID: String
    public var at: Date
    /// The record's canonical JSON, and its digest.
    public var body: String {
        didSet { bodyDigest = LedgerChain.digest(body) }
    }
    public private(set) var bodyDigest: String

    public init(kind: LedgerKind, recordID: String, at: Date, body: JSONValue) {
        self.kind = kind
        self.recordID = recordID
        self.at = Timestamp.truncated(at)
        let text = body.canonicalText
        self.body = text
        self.bodyDigest = LedgerChain.digest(text)
    }
}

/// The chain's rules, pure.
public enum LedgerChain {
    /// The previous hash of a tenant's first entry.
    public static let genesis = String(repeating: "0", count: 64)

    /// `hex(SHA-256("warden-ledger-v1\n" + previous + "\n" + sequence + "\n" + kind + "\n" + record id + "\n" + at + "\n" + bodyDigest))`,
    /// where `bodyDigest` is `hex(SHA-256(body))`: a redacted export keeps the digest of the body it
    /// leaves out, and its chain still verifies.
    public static func hash(previous: String, sequence: Int64, kind: LedgerKind, recordID: String, at: Date, body: String) -> String {
        hash(previous: previous, sequence: sequence, kind: kind, recordID: recordID, at: at, bodyDigest: digest(body))
    }

    public static func hash(previous: String, sequence: Int64, kind: LedgerKind, recordID: String, at: Date, bodyDigest: String) -> String {
        var hasher = SHA256()
        for part in ["warden-ledger-v1", previous, String(sequence), kind.rawValue, recordID, Timestamp.format(at)] {
            hasher.update(data: Array(part.utf8))
            hasher.update(data: [0x0a])
        }
        hasher.update(data: Array(bodyDigest.utf8))
        return WebhookSignature.hex(Array(hasher.finalize()))
    }

    /// `hex(SHA-256(text))`.
    public static func digest(_ text: String) -> String {
        WebhookSignature.hex(Array(SHA256.hash(data: Array(text.utf8))))
    }

    /// Links `items` after the head (`previous`, `sequence`): the entries to store and the new head.
    public static func link(
        _ items: [LedgerItem], tenantID: UUID, after sequence: Int64, previous: String
    ) -> (entries: [LedgerEntry], head: (sequence: Int64, hash: String)) {
        var entries: [LedgerEntry] = []
        entries.reserveCapacity(items.count)
        var sequence = sequence
        var previous = previous
        for item in items {
            sequence += 1
            let hash = Self.hash(
                previous: previous, sequence: sequence, kind: item.kind, recordID: item.recordID, at: item.at, bodyDigest: item.bodyDigest)
            entries.append(
                LedgerEntry(
                    tenantID: tenantID, sequence: sequence, kind: item.kind, recordID: item.recordID, at: item.at, body: item.body,
                    previousHash: previous, hash: hash))
            previous = hash
        }
        return (entries, (sequence, previous))
    }

    /// Where a chain first fails, if it does.
    public struct Break: Sendable, Equatable, Error {
        public var sequence: Int64
        public var recordID: String?
        public var reason: String

        public init(sequence: Int64, recordID: String?, reason: String) {
            self.sequence = sequence
            self.recordID = recordID
            self.reason = reason
        }
    }

    /// Checks entries page by page, in order: feed each page to `check`, which carries the
    /// sequence and hash reached so far.
    public struct Verifier: Sendable {
        public private(set) var sequence: Int64 = 0
        public private(set) var hash: String = LedgerChain.genesis
        public private(set) var count = 0
        /// The hash reached at each of `watched`, for checking checkpoints.
        public private(set) var hashes: [Int64: String] = [:]
        let watched: Set<Int64>

        public init(watching watched: Set<Int64> = []) {
            self.watched = watched
        }

        /// Continues a chain from an entry already trusted (`sequence`, `hash`), for checking a stretch of it.
        public init(after sequence: Int64, hash: String) {
            self.watched = []
            self.sequence = sequence
            self.hash = hash
        }

        public mutating func check(_ entry: LedgerEntry) throws(Break) {
            guard entry.sequence == sequence + 1 else {
                throw Break(
                    sequence: sequence + 1, recordID: nil,
                    reason: entry.sequence > sequence + 1
                        ? "entries \(sequence + 1)…\(entry.sequence - 1) are missing" : "entry \(entry.sequence) is out of order")
            }
            guard entry.previousHash == hash else {
                throw Break(sequence: entry.sequence, recordID: entry.recordID, reason: "its previous hash does not match entry \(sequence)")
            }
            let expected = LedgerChain.hash(
                previous: hash, sequence: entry.sequence, kind: entry.kind, recordID: entry.recordID, at: entry.at, body: entry.body)
            guard entry.hash == expected else {
                throw Break(
                    sequence: entry.sequence, recordID: entry.recordID, reason: "its content does not match its hash (changed after it was written)")
            }
            sequence = entry.sequence
            hash = entry.hash
            count += 1
            if watched.contains(sequence) { hashes[sequence] = hash }
        }

        /// After the last entry: the chain must end at the recorded head (no entries cut off the end).
        public func finish(head: (sequence: Int64, hash: String)) throws(Break) {
            guard head.sequence == sequence, head.hash == hash else {
                throw Break(
                    sequence: sequence + 1, recordID: nil,
                    reason: head.sequence > sequence
                        ? "the chain ends at \(sequence) but its head says \(head.sequence): entries were removed"
                        : "the chain's head (\(head.sequence)) does not match its last entry (\(sequence))")
            }
        }
    }
}

/// The ledger's storage, per tenant.
public protocol LedgerRepository: Sendable {
    /// Links `items` after the tenant's head and stores them, in the caller's transaction (the head
    /// is locked until it ends, so each tenant's chain grows one transaction at a time).
    func append(tenantID: UUID, _ items: [LedgerItem]) async throws
    /// Entries after `sequence`, in order.
    func entries(tenantID: UUID, after sequence: Int64, limit: Int) async throws -> [LedgerEntry]
    /// Entries after `sequence` whose time is in `[from, to)`, in order.
    func entries(tenantID: UUID, after sequence: Int64, from: Date?, to: Date?, limit: Int) async throws -> [LedgerEntry]
    func head(tenantID: UUID) async throws -> (sequence: Int64, hash: String)
    func insert(_ checkpoint: LedgerCheckpoint) async throws
    /// The tenant's checkpoints, oldest first.
    func checkpoints(tenantID: UUID) async throws -> [LedgerCheckpoint]
    /// Every tenant's head with its latest checkpoint.
    func heads() async throws -> [LedgerHeadState]
    func entry(tenantID: UUID, sequence: Int64) async throws -> LedgerEntry?
    /// The entry of a record written near `at` (its own time), found without an index by record id.
    func locate(tenantID: UUID, kind: LedgerKind, recordID: String, near at: Date) async throws -> LedgerEntry?
    /// The first checkpoint at or after `sequence`.
    func checkpoint(tenantID: UUID, covering sequence: Int64) async throws -> LedgerCheckpoint?
    /// The body digests of records of one kind as their rows read now, by record id (rows that are
    /// gone are absent); `nil` for kinds whose record changes after it is written (approval
    /// requests, runs: each state is its own entry).
    func currentDigests(tenantID: UUID, kind: LedgerKind, recordIDs: [String]) async throws -> [String: String]?
}

// MARK: - The records' canonical bodies

extension LedgerItem {
    /// A decision's body. `labels` is there only when the caller labelled the input, so bodies of
    /// unlabelled decisions are what they were before labels existed.
    public static func decision(_ record: DecisionRecord) -> LedgerItem {
        var body: [String: JSONValue] = [
            "id": .string(record.id.uuidString.lowercased()), "agent_id": .string(record.agentID), "tool": .string(record.tool),
            "action": .string(record.action), "input": .string(record.input), "effect": .string(record.effect.rawValue),
            "reasons": .array(record.reasons.map(JSONValue.string)), "bundle": record.bundle.map(JSONValue.string) ?? .null,
            "bundle_id": record.bundleID.map { .string($0.uuidString.lowercased()) } ?? .null,
            "run_id": record.runID.map(JSONValue.string) ?? .null, "cost": record.cost.map(JSONValue.double) ?? .null,
            "trace_id": record.traceID.map(JSONValue.string) ?? .null, "cohort": record.cohort.map { .string($0.rawValue) } ?? .null,
            "created_at": .string(Timestamp.format(record.createdAt)),
        ]
        if !record.labels.isEmpty { body["labels"] = .object(record.labels.mapValues { .string($0.rawValue) }) }
        return LedgerItem(kind: .decision, recordID: record.id.uuidString.lowercased(), at: record.createdAt, body: .object(body))
    }

    public static func audit(_ event: AuditEvent) -> LedgerItem {
        LedgerItem(
            kind: .audit, recordID: event.id.uuidString.lowercased(), at: event.createdAt,
            body: .object([
                "id": .string(event.id.uuidString.lowercased()), "actor": .string(event.actor), "action": .string(event.action),
                "target": .string(event.target), "reason": event.reason.map(JSONValue.string) ?? .null,
                "details": .object(event.details.mapValues(JSONValue.string)), "created_at": .string(Timestamp.format(event.createdAt)),
            ]))
    }

    /// One state of an approval request (each change is a new entry).
    public static func approval(_ request: ApprovalRequest, at: Date) -> LedgerItem {
        LedgerItem(
            kind: .approval, recordID: request.id.uuidString.lowercased(), at: at,
            body: .object([
                "id": .string(request.id.uuidString.lowercased()), "agent": .string(request.agentID), "tool": .string(request.tool),
                "action": .string(request.action), "input": request.input,
                "labels": .object(request.labels.mapValues { .string($0.rawValue) }), "level": .string(request.level.rawValue),
                "status": .string(request.status.rawValue), "approvals": .array(request.approvals.map(JSONValue.string)),
                "escalation_step": .int(Int64(request.escalationStep)),
                "last_change": request.history.last.map { change in
                    .object([
                        "status": .string(change.status.rawValue), "actor": .string(change.actor), "at": .string(Timestamp.format(change.at)),
                        "comment": change.comment.map(JSONValue.string) ?? .null,
                    ])
                } ?? .null,
                "decision_id": request.decisionID.map { .string($0.uuidString.lowercased()) } ?? .null,
                "run_id": request.runID.map(JSONValue.string) ?? .null, "requested_by": .string(request.requestedBy),
                "created_at": .string(Timestamp.format(request.createdAt)),
            ]))
    }

    /// One state of a run (opened, then ended).
    public static func run(_ run: Run, at: Date) -> LedgerItem {
        LedgerItem(
            kind: .run, recordID: run.id.uuidString.lowercased(), at: at,
            body: .object([
                "id": .string(run.id.uuidString.lowercased()), "agent": .string(run.agentID), "goal": .string(run.goal), "plan": run.plan ?? .null,
                "model": run.model.map(JSONValue.string) ?? .null, "status": .string(run.status.rawValue), "created_by": .string(run.createdBy),
                "created_at": .string(Timestamp.format(run.createdAt)), "ended_at": run.endedAt.map { .string(Timestamp.format($0)) } ?? .null,
                "end_reason": run.endReason.map(JSONValue.string) ?? .null, "ended_by": run.endedBy.map(JSONValue.string) ?? .null,
            ]))
    }

    public static func annotation(_ annotation: RunAnnotation) -> LedgerItem {
        LedgerItem(
            kind: .note, recordID: annotation.id.uuidString.lowercased(), at: annotation.createdAt,
            body: .object([
                "id": .string(annotation.id.uuidString.lowercased()), "run_id": .string(annotation.runID.uuidString.lowercased()),
                "kind": .string(annotation.kind.rawValue), "text": .string(annotation.text),
                "decision_id": annotation.decisionID.map { .string($0.uuidString.lowercased()) } ?? .null,
                "policy_version": annotation.policyVersion.map(JSONValue.string) ?? .null, "created_by": .string(annotation.createdBy),
                "created_at": .string(Timestamp.format(annotation.createdAt)),
            ]))
    }

    public static func step(_ step: RunStep) -> LedgerItem {
        LedgerItem(
            kind: .runStep, recordID: step.id.uuidString.lowercased(), at: step.createdAt,
            body: .object([
                "id": .string(step.id.uuidString.lowercased()), "run_id": .string(step.runID.uuidString.lowercased()),
                "sequence": .int(Int64(step.sequence)), "kind": .string(step.kind.rawValue), "started_at": .string(Timestamp.format(step.startedAt)),
                "ended_at": step.endedAt.map { .string(Timestamp.format($0)) } ?? .null, "data": .object(step.data),
                "labels": .object(step.labels.mapValues { .string($0.rawValue) }), "created_by": .string(step.createdBy),
                "created_at": .string(Timestamp.format(step.createdAt)),
            ]))
    }
}
