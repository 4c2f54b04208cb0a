import Foundation
import SQLKit
import Testing
import WardenCore

@testable import WardenStore

/// The hash chain as stored: appends link after the head; a changed, removed or cut-off entry is
/// found, named by its sequence number.
@Suite struct LedgerStoreTests {
    static func items(_ count: Int, from start: Int = 0) -> [LedgerItem] {
        (start..<start + count).map {
            LedgerItem(
                kind: .note, recordID: "r\($0)", at: Date(timeIntervalSince1970: 1_800_000_000 + Double($0)), body: .object(["n": .int(Int64($0))]))
        }
    }

    func verify(_ store: SQLStore, _ tenantID: UUID) async throws -> LedgerService.Verification {
        let head = try await store.read { try await $0.ledger.head(tenantID: tenantID) }
        return try await LedgerService.verify(head: head, pageSize: 7) { after, limit in
            try await store.read { try await $0.ledger.entries(tenantID: tenantID, after: after, limit: limit) }
        }
    }

    @Test(arguments: Backend.available)
    func tamperingIsFoundAndNamed(_ backend: Backend) async throws {
        try await backend.withDatabase { database in
            let store = SQLStore(database: database)
            let tenant = Tenant(id: UUID(), slug: "acme", name: "Acme", createdAt: Date())
            let other = Tenant(id: UUID(), slug: "beta", name: "Beta", createdAt: Date())
            try await store.write { repos in
                try await repos.tenants.insert(tenant)
                try await repos.tenants.insert(other)
            }
            // Appends in several transactions, interleaved with another tenant's chain.
            for batch in 0..<5 {
                try await store.write { [batch] repos in
                    try await repos.ledger.append(tenantID: tenant.id, Self.items(10, from: batch * 10))
                    try await repos.ledger.append(tenantID: other.id, Self.items(3, from: batch * 3))
                }
            }
            let good = try await verify(store, tenant.id)
            #expect(good.valid && good.entries == 50 && good.head == 50, "\(good)")
            #expect(try await verify(store, other.id).entries == 15)

            // A changed body.
            try await database.withSession { db in
                try await db.raw(
                    "UPDATE ledger_entries SET body = '{\"n\":999}' WHERE tenant_id = \(bind: tenant.id.uuidString.lowercased()) AND seq = 23"
                )
                .run()
            }
            let changed = try await verify(store, tenant.id)
            #expect(!changed.valid && changed.broken?.sequence == 23 && changed.broken?.recordID == "r22" && changed.entries == 22, "\(changed)")
            #expect(changed.broken?.reason.contains("changed after it was written") == true)
            #expect(try await verify(store, other.id).valid, "the other tenant's chain is untouched")

            // Put it back; then cut the last entry off.
            try await database.withSession { db in
                try await db.raw(
                    "UPDATE ledger_entries SET body = '{\"n\":22}' WHERE tenant_id = \(bind: tenant.id.uuidString.lowercased()) AND seq = 23"
                )
                .run()
                try await db.raw("DELETE FROM ledger_entries WHERE tenant_id = \(bind: tenant.id.uuidString.lowercased()) AND seq = 50").run()
            }
            let cut = try await verify(store, tenant.id)
            #expect(!cut.valid && cut.broken?.sequence == 50 && cut.broken?.reason.contains("removed") == true, "\(cut)")

            // A gap in the middle.
            try await database.withSession { db in
                try await db.raw("DELETE FROM ledger_entries WHERE tenant_id = \(bind: tenant.id.uuidString.lowercased()) AND seq = 10").run()
            }
            let gap = try await verify(store, tenant.id)
            #expect(!gap.valid && gap.broken?.sequence == 10 && gap.broken?.reason.contains("missing") == true, "\(gap)")
        }
    }

    /// A consistent rewrite of the whole chain (entries and head) passes the hash checks but not the
    /// signed checkpoint; a forged or foreign signature does not pass either.
    @Test(arguments: Backend.available)
    func signedCheckpointsCatchAWholeRewrite(_ backend: Backend) async throws {
        try await backend.withDatabase { database in
            let store = SQLStore(database: database)
            let tenant = Tenant(id: UUID(), slug: "acme", name: "Acme", createdAt: Date())
            try await store.write { try await $0.tenants.insert(tenant) }
            try await store.write { try await $0.ledger.append(tenantID: tenant.id, Self.items(20)) }
            let signer = try LedgerSigner(keyID: "k1", privateKey: AgentTokenAuthority.generateKey())
            let service = LedgerService(store: store, signer: signer)
            #expect(try await service.checkpointDue(records: 10, interval: 3600) == 1)
            #expect(try await service.checkpointDue(records: 10, interval: 3600) == 0, "nothing new since")
            try await store.write { try await $0.ledger.append(tenantID: tenant.id, Self.items(5, from: 20)) }
            #expect(try await service.checkpointDue(records: 10, interval: 3600) == 0, "5 new entries, 1 hour not passed")
            #expect(try await service.checkpointDue(records: 5, interval: 3600) == 1)

            func verify(keys: [String: [UInt8]]) async throws -> LedgerService.Verification {
                let (head, checkpoints) = try await store.read { repos in
                    (try await repos.ledger.head(tenantID: tenant.id), try await repos.ledger.checkpoints(tenantID: tenant.id))
                }
                return try await LedgerService.verify(head: head, checkpoints: checkpoints, publicKeys: keys) { after, limit in
                    try await store.read { try await $0.ledger.entries(tenantID: tenant.id, after: after, limit: limit) }
                }
            }
            let good = try await verify(keys: ["k1": signer.publicKey])
            #expect(good.valid && good.checkpoints == 2 && good.lastCheckpoint == 25, "\(good)")
            let stranger = try LedgerSigner(keyID: "k1", privateKey: AgentTokenAuthority.generateKey())
            let foreign = try await verify(keys: ["k1": stranger.publicKey])
            #expect(!foreign.valid && foreign.broken?.reason.contains("invalid signature") == true, "\(foreign)")
            #expect(try await verify(keys: [:]).broken?.reason.contains("unknown key") == true)

            // Rewrite everything from entry 1 with other bodies, consistently, head included.
            let (forged, head) = LedgerChain.link(
                Self.items(25).map {
                    var item = $0
                    item.body = #"{"forged":true}"#
                    return item
                }, tenantID: tenant.id, after: 0,
                previous: LedgerChain.genesis)
            try await database.withSession { db in
                let id = tenant.id.uuidString.lowercased()
                try await db.raw("DELETE FROM ledger_entries WHERE tenant_id = \(bind: id)").run()
                for entry in forged {
                    let values: [any Encodable & Sendable] = [
                        id, entry.sequence, entry.kind.rawValue, entry.recordID, Timestamp.format(entry.at), entry.body, entry.previousHash,
                        entry.hash,
                    ]
                    try await db.raw(
                        "INSERT INTO ledger_entries (tenant_id, seq, kind, record_id, at, body, prev_hash, hash) VALUES (\(binds: values))"
                    ).run()
                }
                try await db.raw("UPDATE tenants SET ledger_head = \(bind: head.hash) WHERE id = \(bind: id)").run()
            }
            let rewritten = try await verify(keys: ["k1": signer.publicKey])
            #expect(!rewritten.valid && rewritten.broken?.sequence == 20 && rewritten.broken?.reason.contains("rewritten") == true, "\(rewritten)")
            #expect(rewritten.entries == 25, "every hash held; only the signature shows the rewrite")
        }
    }

    /// The deployment's stored key stays trusted when configuration brings another: checkpoints it
    /// signed still verify, and a key nobody knows still fails.
    @Test(arguments: Backend.available)
    func theStoredKeyStaysTrustedUnderAConfiguredOne(_ backend: Backend) async throws {
        try await backend.withDatabase { database in
            let store = SQLStore(database: database)
            let tenant = Tenant(id: UUID(), slug: "acme", name: "Acme", createdAt: Date())
            try await store.write { try await $0.tenants.insert(tenant) }
            try await store.write { try await $0.ledger.append(tenantID: tenant.id, Self.items(5)) }
            let generated = AgentTokenAuthority.generateKey()
            _ = try await store.write {
                try await $0.signingKeys.insertIfAbsent(purpose: LedgerSigner.keyPurpose, id: "ledger-stored", key: generated, at: Date())
            }
            let before = LedgerService(store: store, signer: try LedgerSigner(keyID: "ledger-stored", privateKey: generated))
            #expect(try await before.checkpointDue(records: 1, interval: 3600) == 1)
            let configured = LedgerService(
                store: store, signer: try LedgerSigner(keyID: "from-env", privateKey: AgentTokenAuthority.generateKey()), configuredKey: true)
            #expect(Set(try await configured.trustedKeys().keys) == ["ledger-stored", "from-env"])
            let result = try await configured.verify(tenantID: tenant.id)
            #expect(result.valid && result.checkpoints == 1, "\(result)")
        }
    }

    /// Entries are found by record id without an index: by time, within five minutes either side of
    /// the record's own time, even when appends land out of time order.
    @Test(arguments: Backend.available)
    func entriesAreLocatedByTimeWithoutAnIndex(_ backend: Backend) async throws {
        try await backend.withDatabase { database in
            let store = SQLStore(database: database)
            let tenant = Tenant(id: UUID(), slug: "acme", name: "Acme", createdAt: Date())
            try await store.write { try await $0.tenants.insert(tenant) }
            #expect(try await store.read { try await $0.ledger.locate(tenantID: tenant.id, kind: .note, recordID: "r1", near: Date()) } == nil)
            // 3,000 entries one second apart, every tenth a few seconds out of order.
            let base = Date(timeIntervalSince1970: 1_800_000_000)
            let items = (0..<3000).map { index in
                LedgerItem(
                    kind: .note, recordID: "r\(index)", at: base.addingTimeInterval(Double(index) + (index % 10 == 0 ? -4 : 0)),
                    body: .object(["n": .int(Int64(index))]))
            }
            for chunk in stride(from: 0, to: items.count, by: 500) {
                try await store.write { try await $0.ledger.append(tenantID: tenant.id, Array(items[chunk..<chunk + 500])) }
            }
            for index in [0, 1, 10, 1499, 1500, 2990, 2999] {
                let found = try await store.read { repos in
                    try await repos.ledger.locate(tenantID: tenant.id, kind: .note, recordID: "r\(index)", near: items[index].at)
                }
                #expect(found?.sequence == Int64(index + 1) && found?.recordID == "r\(index)", "r\(index): \(String(describing: found))")
            }
            // The wrong kind, or a time more than an hour (the widest slack) from the entry's, finds nothing;
            // 20 minutes off is found once the slack has widened to an hour.
            #expect(
                try await store.read { try await $0.ledger.locate(tenantID: tenant.id, kind: .decision, recordID: "r5", near: items[5].at) } == nil)
            #expect(
                try await store.read {
                    try await $0.ledger.locate(tenantID: tenant.id, kind: .note, recordID: "r5", near: items[5].at.addingTimeInterval(2 * 3600))
                } == nil)
            #expect(
                try await store.read {
                    try await $0.ledger.locate(tenantID: tenant.id, kind: .note, recordID: "r5", near: items[5].at.addingTimeInterval(1200))
                }?.sequence == 6)
        }
    }

    /// Rows are compared a page behind the hashing: the first break is still the one reported, whether
    /// a changed row comes before a broken link or after it.
    @Test(arguments: Backend.available)
    func theEarliestOfARowAndAChainBreakIsReported(_ backend: Backend) async throws {
        try await backend.withDatabase { database in
            let store = SQLStore(database: database)
            let tenant = Tenant(id: UUID(), slug: "acme", name: "Acme", createdAt: Date())
            try await store.write { try await $0.tenants.insert(tenant) }
            try await store.write { try await $0.ledger.append(tenantID: tenant.id, Self.items(40)) }
            try await database.withSession { db in
                try await db.raw("UPDATE ledger_entries SET body = '{}' WHERE seq = 20 AND tenant_id = \(bind: tenant.id.uuidString.lowercased())")
                    .run()
            }
            let head = try await store.read { try await $0.ledger.head(tenantID: tenant.id) }
            func verify(rowBreakAt bad: Int64) async throws -> LedgerService.Verification {
                try await LedgerService.verify(
                    head: head, pageSize: 7,
                    page: { after, limit in try await store.read { try await $0.ledger.entries(tenantID: tenant.id, after: after, limit: limit) } },
                    compare: { entries in
                        guard let hit = entries.first(where: { $0.sequence == bad }) else { return (entries.count, nil) }
                        return (
                            Int(hit.sequence - entries[0].sequence), LedgerChain.Break(sequence: bad, recordID: hit.recordID, reason: "row changed")
                        )
                    })
            }
            let rowFirst = try await verify(rowBreakAt: 10)
            #expect(rowFirst.broken?.sequence == 10 && rowFirst.broken?.reason == "row changed" && rowFirst.entries == 9, "\(rowFirst)")
            #expect(rowFirst.recordsCompared == 9)
            let chainFirst = try await verify(rowBreakAt: 30)
            #expect(chainFirst.broken?.sequence == 20 && chainFirst.broken?.reason.contains("changed after it was written") == true, "\(chainFirst)")
            #expect(chainFirst.entries == 19)
        }
    }
}
