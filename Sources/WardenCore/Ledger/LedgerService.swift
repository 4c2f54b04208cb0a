public import Foundation
import Synchronization

/// Reading, checking and checkpointing tenants' ledgers.
public struct LedgerService: Sendable {
    let store: any Store
    let clock: any WallClock
    private let current: Current
    /// Whether the key comes from configuration (then it is rotated there, not through the API).
    let configuredKey: Bool

    /// The signing key in use; replaced by a rotation.
    final class Current: Sendable {
        let signer: Mutex<LedgerSigner?>
        init(_ signer: LedgerSigner?) { self.signer = Mutex(signer) }
    }

    public init(store: any Store, clock: any WallClock = SystemClock(), signer: LedgerSigner? = nil, configuredKey: Bool = false) {
        self.store = store
        self.clock = clock
        self.current = Current(signer)
        self.configuredKey = configuredKey
    }

    var signer: LedgerSigner? { current.signer.withLock { $0 } }

    /// The key checkpoints are signed with now, by key id.
    public var publicKeys: [String: [UInt8]] { signer.map { [$0.keyID: $0.publicKey] } ?? [:] }

    /// Every key a checkpoint may be signed with: the current one and the retired ones (a rotation
    /// keeps old checkpoints valid).
    /// The key this deployment generated and keeps in the database counts too when configuration
    /// supplies another one: what it signed before the configured key took over stays valid.
    public func trustedKeys() async throws -> [String: [UInt8]] {
        var keys = publicKeys
        let (stored, retired) = try await store.read { repos in
            (try await repos.signingKeys.find(purpose: LedgerSigner.keyPurpose), try await repos.signingKeys.retired())
        }
        if let stored, keys[stored.id] == nil, let publicKey = LedgerSigner.publicKey(ofPrivate: stored.key) { keys[stored.id] = publicKey }
        for retired in retired where retired.purpose == LedgerSigner.keyPurpose {
            keys[retired.id] = retired.publicKey
        }
        return keys
    }

    /// Replaces the checkpoint signing key (global admins), audited; the old key's public half stays
    /// trusted for what it signed. Refused when the key comes from configuration.
    public func rotate(by principal: Principal, reason: String) async throws -> (retired: String, current: String) {
        guard principal.isGlobalAdmin else { throw WardenError(.forbidden, "only a global admin may rotate a signing key") }
        let reason = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty else { throw WardenError(.missingField, "a key rotation needs a reason") }
        try Tool.validate(text: reason, field: "reason", max: 1000)
        guard !configuredKey else {
            throw WardenError(.signingKeyConfigured, "the ledger signing key comes from WARDEN_LEDGER_SIGNING_KEY; rotate it there")
        }
        guard let old = signer else { throw WardenError(.ledgerSigningUnavailable, "no ledger signing key is configured") }
        let now = Timestamp.truncated(clock.now())
        let next = try LedgerSigner(keyID: "ledger-\(UUID().uuidString.lowercased().prefix(8))", privateKey: AgentTokenAuthority.generateKey())
        try await store.write { repos in
            try await repos.signingKeys.rotate(
                purpose: LedgerSigner.keyPurpose, to: next.keyID, key: next.privateKey, at: now, retiredPublicKey: old.publicKey, by: principal.actor)
            try await repos.audit.append(
                AuditEvent(
                    id: UUID(), tenantID: nil, actor: principal.actor, action: "signing_key.rotated", target: "key:\(LedgerSigner.keyPurpose)",
                    reason: reason, details: ["retired": old.keyID, "current": next.keyID], createdAt: now))
        }
        current.signer.withLock { $0 = next }
        return (old.keyID, next.keyID)
    }

    /// What a check of a tenant's chain found.
    public struct Verification: Sendable, Equatable {
        public var valid: Bool
        /// Entries checked (all of them when valid).
        public var entries: Int
        public var head: Int64
        public var headHash: String
        /// Checkpoints whose signature and hash held.
        public var checkpoints: Int
        public var lastCheckpoint: Int64?
        /// The first broken entry or checkpoint, when not valid.
        public var broken: LedgerChain.Break?
        /// Entries whose record's row was compared with them (`records: true`), up to the break.
        public var recordsCompared = 0
    }

    /// Walks the tenant's whole chain in order, `pageSize` entries at a time (memory stays flat),
    /// recomputing every hash; then checks each checkpoint up to the head: signed by a known key, and
    /// naming the hash the chain really has there. Stops at the first break. `progress` gets the
    /// entries checked so far.
    public static func verify(
        head: (sequence: Int64, hash: String), checkpoints: [LedgerCheckpoint] = [], publicKeys: [String: [UInt8]] = [:],
        pageSize: Int = 5000, page: (_ after: Int64, _ limit: Int) async throws -> [LedgerEntry],
        compare: (@Sendable (_ entries: [LedgerEntry]) async throws -> (compared: Int, broken: LedgerChain.Break?))? = nil,
        progress: (Int) -> Void = { _ in }
    ) async throws -> Verification {
        let relevant = checkpoints.filter { $0.sequence <= head.sequence }
        var verifier = LedgerChain.Verifier(watching: Set(relevant.map(\.sequence)))
        var checked = 0
        var compared = 0
        var intact: Int?
        func result(_ broken: LedgerChain.Break?) -> Verification {
            Verification(
                valid: broken == nil, entries: intact ?? verifier.count, head: head.sequence, headHash: head.hash, checkpoints: checked,
                lastCheckpoint: relevant.last?.sequence, broken: broken, recordsCompared: compared)
        }
        // A page's rows are compared while the next page is read and hashed; a break found there
        // comes before any break in later pages.
        var inFlight: Task<(compared: Int, broken: LedgerChain.Break?), any Error>?
        func settle() async throws {
            guard let task = inFlight else { return }
            inFlight = nil
            let (count, broken) = try await task.value
            compared += count
            if let broken {
                intact = Int(broken.sequence - 1)
                throw broken
            }
        }
        do {
            while verifier.sequence < head.sequence {
                let entries = try await page(verifier.sequence, min(pageSize, Int(head.sequence - verifier.sequence)))
                guard !entries.isEmpty else { break }
                do {
                    for entry in entries { try verifier.check(entry) }
                } catch {
                    try await settle()
                    throw error
                }
                try await settle()
                if let compare { inFlight = Task { try await compare(entries) } }
                progress(verifier.count)
            }
            try await settle()
            try verifier.finish(head: head)
            for checkpoint in relevant {
                guard let key = publicKeys[checkpoint.keyID] else {
                    throw LedgerChain.Break(
                        sequence: checkpoint.sequence, recordID: nil,
                        reason: "the checkpoint at \(checkpoint.sequence) is signed with unknown key '\(checkpoint.keyID)'")
                }
                guard checkpoint.isSigned(by: key) else {
                    throw LedgerChain.Break(
                        sequence: checkpoint.sequence, recordID: nil, reason: "the checkpoint at \(checkpoint.sequence) has an invalid signature")
                }
                guard verifier.hashes[checkpoint.sequence] == checkpoint.hash else {
                    throw LedgerChain.Break(
                        sequence: checkpoint.sequence, recordID: nil,
                        reason: "the chain at \(checkpoint.sequence) no longer has the hash its signed checkpoint names (rewritten)")
                }
                checked += 1
            }
        } catch let broken as LedgerChain.Break {
            return result(broken)
        }
        return result(nil)
    }

    /// Checks the tenant's chain and checkpoints through the store (admins, auditors).
    public func verify(by principal: Principal, tenant: Tenant, records: Bool = false) async throws -> Verification {
        try principal.require(.readAudit)
        return try await verify(tenantID: tenant.id, records: records)
    }

    /// Checks a tenant's chain and its checkpoints against every trusted key. No permission check:
    /// the API checks first; `warden ledger verify --database-url` reads the database itself.
    /// `progress` gets the entries checked so far and the head.
    /// With `records`, each entry of a record that does not change once written (decisions, run
    /// steps, annotations, compensations, replays, audit events) is also compared with its record's
    /// row as it reads now: a changed or deleted row is named like a broken entry.
    public func verify(tenantID: UUID, records: Bool = false, progress: (_ checked: Int, _ head: Int64) -> Void = { _, _ in }) async throws
        -> Verification
    {
        let (head, checkpoints) = try await store.read { repos in
            (try await repos.ledger.head(tenantID: tenantID), try await repos.ledger.checkpoints(tenantID: tenantID))
        }
        let store = self.store
        let keys = try await trustedKeys()
        var compare: (@Sendable ([LedgerEntry]) async throws -> (compared: Int, broken: LedgerChain.Break?))?
        if records {
            compare = { @Sendable entries in try await Self.compareRecords(entries, tenantID: tenantID, store: store) }
        }
        return try await Self.verify(
            head: head, checkpoints: checkpoints, publicKeys: keys,
            page: { after, limit in try await store.read { try await $0.ledger.entries(tenantID: tenantID, after: after, limit: limit) } },
            compare: compare, progress: { progress($0, head.sequence) })
    }

    /// Compares a page of entries with their records' rows: the first entry whose row is gone or
    /// reads differently.
    static func compareRecords(_ entries: [LedgerEntry], tenantID: UUID, store: any Store) async throws -> (
        compared: Int, broken: LedgerChain.Break?
    ) {
        let byKind = Dictionary(grouping: entries, by: \.kind)
        let current: [LedgerKind: [String: String]] = try await store.read { repos in
            var current: [LedgerKind: [String: String]] = [:]
            for (kind, group) in byKind {
                if let digests = try await repos.ledger.currentDigests(tenantID: tenantID, kind: kind, recordIDs: group.map(\.recordID)) {
                    current[kind] = digests
                }
            }
            return current
        }
        var compared = 0
        for entry in entries {
            guard let digests = current[entry.kind] else { continue }
            let noun = entry.kind.rawValue.replacingOccurrences(of: "_", with: " ")
            guard let digest = digests[entry.recordID] else {
                return (
                    compared,
                    LedgerChain.Break(
                        sequence: entry.sequence, recordID: entry.recordID, reason: "its \(noun) row is gone (deleted after it was written)")
                )
            }
            guard digest == LedgerChain.digest(entry.body) else {
                return (
                    compared,
                    LedgerChain.Break(
                        sequence: entry.sequence, recordID: entry.recordID,
                        reason: "its \(noun) row no longer matches it (changed after it was written)")
                )
            }
            compared += 1
        }
        return (compared, nil)
    }

    /// Entries after `sequence`, in order.
    public func entries(by principal: Principal, tenant: Tenant, after sequence: Int64, limit: Int) async throws -> [LedgerEntry] {
        try principal.require(.readAudit)
        let tenantID = tenant.id
        return try await store.read { try await $0.ledger.entries(tenantID: tenantID, after: sequence, limit: limit) }
    }

    /// Entries after `sequence` in a time range, in order.
    public func entries(by principal: Principal, tenant: Tenant, after sequence: Int64, from: Date?, to: Date?, limit: Int) async throws
        -> [LedgerEntry]
    {
        try principal.require(.readAudit)
        let tenantID = tenant.id
        return try await store.read { try await $0.ledger.entries(tenantID: tenantID, after: sequence, from: from, to: to, limit: limit) }
    }

    /// Audits an export before it streams: who took what, at which redaction level.
    public func recordExport(by principal: Principal, tenant: Tenant, from: Date?, to: Date?, level: RedactionLevel) async throws {
        try principal.require(.readAudit)
        let now = Timestamp.truncated(clock.now())
        try await store.write { repos in
            try await repos.audit.append(
                AuditEvent(
                    id: UUID(), tenantID: tenant.id, actor: principal.actor, action: "ledger.exported", target: "tenant:\(tenant.slug)", reason: nil,
                    details: [
                        "from": from.map(Timestamp.format) ?? "start", "to": to.map(Timestamp.format) ?? "now", "redaction_level": level.rawValue,
                    ], createdAt: now))
        }
    }

    public func checkpoints(by principal: Principal, tenant: Tenant) async throws -> [LedgerCheckpoint] {
        try principal.require(.readAudit)
        let tenantID = tenant.id
        return try await store.read { try await $0.ledger.checkpoints(tenantID: tenantID) }
    }

    /// Signs the tenant's head now (admins), unless it is already checkpointed; audited.
    public func checkpoint(by principal: Principal, tenant: Tenant) async throws -> LedgerCheckpoint? {
        guard principal.role == .admin else { throw WardenError(.forbidden, "only an admin may sign a checkpoint") }
        guard let signer else { throw WardenError(.ledgerSigningUnavailable, "no ledger signing key is configured") }
        let now = Timestamp.truncated(clock.now())
        let tenantID = tenant.id
        do {
            return try await signHead(by: principal, tenant: tenant, signer: signer, now: now)
        } catch let error as WardenError where error.code == .ledgerCheckpointExists {
            // The background pass signed the same head a moment earlier: that checkpoint is the answer.
            return try await store.read { try await $0.ledger.checkpoints(tenantID: tenantID).last }
        }
    }

    func signHead(by principal: Principal, tenant: Tenant, signer: LedgerSigner, now: Date) async throws -> LedgerCheckpoint? {
        let tenantID = tenant.id
        return try await store.write { repos in
            let head = try await repos.ledger.head(tenantID: tenantID)
            let last = try await repos.ledger.checkpoints(tenantID: tenantID).last
            guard head.sequence > 0, head.sequence != last?.sequence else { return last }
            let checkpoint = try signer.sign(tenantID: tenantID, sequence: head.sequence, hash: head.hash, at: now)
            try await repos.ledger.insert(checkpoint)
            try await repos.audit.append(
                AuditEvent(
                    id: UUID(), tenantID: tenantID, actor: principal.actor, action: "ledger.checkpoint", target: "tenant:\(tenant.slug)",
                    reason: nil, details: ["sequence": String(head.sequence), "key_id": signer.keyID], createdAt: now))
            return checkpoint
        }
    }

    /// One pass: signs the head of every tenant with `records` new entries since its last checkpoint,
    /// or any new entries and `interval` seconds since. Returns how many were signed.
    @discardableResult
    public func checkpointDue(records: Int64, interval: TimeInterval) async throws -> Int {
        guard let signer else { return 0 }
        let now = Timestamp.truncated(clock.now())
        let due = try await store.read { try await $0.ledger.heads() }.filter { $0.isDue(now: now, records: records, interval: interval) }
        var signed = 0
        for state in due {
            let checkpoint = try signer.sign(tenantID: state.tenantID, sequence: state.sequence, hash: state.hash, at: now)
            // Another replica may have signed the same head meanwhile; the key (tenant, sequence) keeps one.
            do {
                try await store.write { try await $0.ledger.insert(checkpoint) }
                signed += 1
            } catch let error as WardenError where error.code == .ledgerCheckpointExists {
                continue
            }
        }
        return signed
    }
}
