public import Foundation

/// Reading and checking a tenant's ledger.
public struct LedgerService: Sendable {
    let store: any Store

    public init(store: any Store) {
        self.store = store
    }

    /// What a check of a tenant's chain found.
    public struct Verification: Sendable, Equatable {
        public var valid: Bool
        /// Entries checked (all of them when valid).
        public var entries: Int
        public var head: Int64
        public var headHash: String
        /// The first broken entry, when not valid.
        public var broken: LedgerChain.Break?
    }

    /// Walks the tenant's whole chain in order, `pageSize` entries at a time (memory stays flat),
    /// recomputing every hash; stops at the first broken entry. `progress` gets the entries checked so far.
    public static func verify(
        head: (sequence: Int64, hash: String), pageSize: Int = 5000,
        page: (_ after: Int64, _ limit: Int) async throws -> [LedgerEntry],
        progress: (Int) -> Void = { _ in }
    ) async throws -> Verification {
        var verifier = LedgerChain.Verifier()
        do {
            while verifier.sequence < head.sequence {
                let entries = try await page(verifier.sequence, min(pageSize, Int(head.sequence - verifier.sequence)))
                guard !entries.isEmpty else { break }
                for entry in entries { try verifier.check(entry) }
                progress(verifier.count)
            }
            try verifier.finish(head: head)
        } catch let broken as LedgerChain.Break {
            return Verification(valid: false, entries: verifier.count, head: head.sequence, headHash: head.hash, broken: broken)
        }
        return Verification(valid: true, entries: verifier.count, head: head.sequence, headHash: head.hash, broken: nil)
    }

    /// Checks the tenant's chain through the store.
    public func verify(by principal: Principal, tenant: Tenant) async throws -> Verification {
        try principal.require(.readAudit)
        let head = try await store.read { try await $0.ledger.head(tenantID: tenant.id) }
        let tenantID = tenant.id
        return try await Self.verify(head: head) { after, limit in
            try await store.read { try await $0.ledger.entries(tenantID: tenantID, after: after, limit: limit) }
        }
    }

    /// Entries after `sequence`, in order.
    public func entries(by principal: Principal, tenant: Tenant, after sequence: Int64, limit: Int) async throws -> [LedgerEntry] {
        try principal.require(.readAudit)
        let tenantID = tenant.id
        return try await store.read { try await $0.ledger.entries(tenantID: tenantID, after: sequence, limit: limit) }
    }
}
