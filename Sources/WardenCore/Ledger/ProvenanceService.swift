public import Foundation

/// Provenance manifests for decisions and tool calls: issued once per record, signed with the
/// ledger key, and checked against the record, its ledger entry and the chain up to the signed
/// checkpoint that covers it.
public struct ProvenanceService: Sendable {
    let store: any Store
    let clock: any WallClock
    let ledger: LedgerService

    public init(store: any Store, clock: any WallClock, ledger: LedgerService) {
        self.store = store
        self.clock = clock
        self.ledger = ledger
    }

    /// The record's tenant, if the caller may read its ledger; 404 otherwise (ids of other tenants do
    /// not leak).
    func owner(by principal: Principal, recordID: UUID) async throws -> (tenant: Tenant, subject: Provenance.Subject) {
        let notFound = WardenError(.provenanceNotFound, "no decision or tool call '\(recordID.uuidString.lowercased())'")
        let found: (Tenant, Provenance.Subject)? = try await store.read { repos in
            guard let (tenantID, subject) = try await repos.provenance.owner(recordID: recordID), principal.canSee(tenantID: tenantID),
                let tenant = try await repos.tenants.find(id: tenantID)
            else { return nil }
            return (tenant, subject)
        }
        guard let found else { throw notFound }
        try principal.require(.readAudit)
        return found
    }

    /// The record's ledger item as the record reads now, and its ledger entry.
    func current(_ repos: Repositories, tenantID: UUID, subject: Provenance.Subject, recordID: UUID) async throws -> (
        item: LedgerItem, entry: LedgerEntry?
    ) {
        let item: LedgerItem
        switch subject {
        case .decision:
            guard let record = try await repos.decisions.find(tenantID: tenantID, id: recordID) else {
                throw WardenError(.provenanceNotFound, "no decision '\(recordID.uuidString.lowercased())'")
            }
            item = .decision(record)
        case .toolCall:
            guard let step = try await repos.runs.step(tenantID: tenantID, id: recordID), step.kind == .toolCall else {
                throw WardenError(.provenanceNotFound, "no tool call '\(recordID.uuidString.lowercased())'")
            }
            item = .step(step)
        }
        let entry = try await repos.ledger.locate(tenantID: tenantID, kind: item.kind, recordID: item.recordID, near: item.at)
        return (item, entry)
    }

    /// The manifest of a decision or tool call (auditors, admins): the one issued before, or one
    /// issued and kept now. 409 `provenance_unavailable` when the record has no ledger entry (written
    /// before the ledger existed) or no longer matches it; 503 without a signing key.
    public func manifest(by principal: Principal, recordID: UUID) async throws -> StoredProvenance {
        let (tenant, subject) = try await owner(by: principal, recordID: recordID)
        let key = recordID.uuidString.lowercased()
        if let stored = try await store.read({ try await $0.provenance.find(tenantID: tenant.id, recordID: key) }) { return stored }
        guard let signer = ledger.signer else { throw WardenError(.ledgerSigningUnavailable, "no ledger signing key is configured") }
        let (item, entry, checkpoint) = try await store.read { repos in
            let (item, entry) = try await current(repos, tenantID: tenant.id, subject: subject, recordID: recordID)
            let checkpoint = try await entry.asyncMap { try await repos.ledger.checkpoint(tenantID: tenant.id, covering: $0.sequence) }
            return (item, entry, checkpoint ?? nil)
        }
        guard let entry else {
            throw WardenError(.provenanceUnavailable, "the \(subject.rawValue) '\(key)' has no ledger entry (it was written before the ledger)")
        }
        guard LedgerChain.digest(entry.body) == item.bodyDigest else {
            throw WardenError(
                .provenanceUnavailable,
                "the \(subject.rawValue) '\(key)' no longer matches its ledger entry \(entry.sequence) (changed after it was written); "
                    + "run warden ledger verify")
        }
        let now = Timestamp.truncated(clock.now())
        let statement = Provenance.statement(
            tenantID: tenant.id, tenantSlug: tenant.slug, subject: subject, entry: entry, checkpoint: checkpoint, issuedAt: now)
        let manifest = StoredProvenance(
            tenantID: tenant.id, recordID: key, subject: subject, envelope: try Provenance.sign(statement, with: signer), signedAt: now)
        return try await store.write { repos in
            if try await repos.provenance.insert(manifest) { return manifest }
            // Issued by another request meanwhile: that one is the record's manifest.
            return try await repos.provenance.find(tenantID: tenant.id, recordID: key) ?? manifest
        }
    }

    /// Checks the record's manifest (issuing it first if none was): its signature against the current
    /// and retired keys, then that the record, its ledger entry and the chain up to the covering
    /// checkpoint still say what it signed.
    public func verify(by principal: Principal, recordID: UUID) async throws -> Provenance.Verification {
        let manifest = try await manifest(by: principal, recordID: recordID)
        return try await verify(manifest.envelope, tenantID: manifest.tenantID, recordID: recordID, subject: manifest.subject)
    }

    /// Checks a manifest the caller holds: offline checks always; checks against the store when the
    /// record belongs to a tenant the caller may read.
    public func verify(by principal: Principal, envelope: ProvenanceEnvelope) async throws -> (Provenance.Verification, checkedStore: Bool) {
        try principal.require(.readAudit)
        let offline = Provenance.verify(envelope, keys: try await ledger.trustedKeys())
        guard offline.valid, let tenantID = offline.tenantID, principal.canSee(tenantID: tenantID), let subject = offline.subject,
            let recordText = offline.recordID, let recordID = UUID(uuidString: recordText)
        else { return (offline, false) }
        return (try await verify(envelope, tenantID: tenantID, recordID: recordID, subject: subject), true)
    }

    func verify(_ envelope: ProvenanceEnvelope, tenantID: UUID, recordID: UUID, subject: Provenance.Subject) async throws
        -> Provenance.Verification
    {
        let keys = try await ledger.trustedKeys()
        let result = Provenance.verify(envelope, keys: keys)
        guard result.valid, let sequence = result.sequence, let digest = result.bodyDigest, let hash = result.entryHash else { return result }
        let (item, entry, checkpoint): (LedgerItem?, LedgerEntry?, LedgerCheckpoint?) = try await store.read { repos in
            let item = try? await current(repos, tenantID: tenantID, subject: subject, recordID: recordID).item
            return (
                item, try await repos.ledger.entry(tenantID: tenantID, sequence: sequence),
                try await repos.ledger.checkpoint(tenantID: tenantID, covering: sequence)
            )
        }
        var failed = result
        failed.valid = false
        guard let item else {
            failed.reason = "the \(subject.rawValue) is no longer in the store"
            return failed
        }
        guard item.bodyDigest == digest else {
            failed.reason = "the \(subject.rawValue) as stored now differs from what the manifest signed (changed after it was written)"
            return failed
        }
        guard let entry, entry.hash == hash, entry.recordID == item.recordID, LedgerChain.digest(entry.body) == digest,
            LedgerChain.hash(
                previous: entry.previousHash, sequence: entry.sequence, kind: entry.kind, recordID: entry.recordID, at: entry.at, body: entry.body)
                == hash
        else {
            failed.reason = "ledger entry \(sequence) no longer matches the manifest (changed or removed)"
            return failed
        }
        var checked = result
        guard let checkpoint else {
            checked.reason = "signature, record, ledger entry \(sequence) check; no signed checkpoint covers it yet"
            return checked
        }
        // The chain from the entry to the checkpoint: every link recomputed, ending at the signed hash.
        guard let key = keys[checkpoint.keyID], checkpoint.isSigned(by: key) else {
            failed.reason = "the checkpoint at \(checkpoint.sequence) is not signed by a trusted key"
            return failed
        }
        var verifier = LedgerChain.Verifier(after: entry.sequence, hash: entry.hash)
        while verifier.sequence < checkpoint.sequence {
            let after = verifier.sequence
            let page = try await store.read { try await $0.ledger.entries(tenantID: tenantID, after: after, limit: 5000) }
            do {
                for next in page where next.sequence <= checkpoint.sequence { try verifier.check(next) }
            } catch {
                failed.reason = "the chain between entry \(sequence) and the checkpoint at \(checkpoint.sequence) is broken at \(error.sequence)"
                return failed
            }
            if page.isEmpty { break }
        }
        guard verifier.sequence == checkpoint.sequence, verifier.hash == checkpoint.hash else {
            failed.reason = "the chain no longer reaches the hash the checkpoint at \(checkpoint.sequence) signed"
            return failed
        }
        checked.checkpointSequence = checkpoint.sequence
        checked.reason = "signature, record, ledger entry \(sequence) and the chain to the signed checkpoint at \(checkpoint.sequence) check"
        return checked
    }
}

extension Optional {
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}
