import Foundation
import Testing
import WardenCore

@testable import WardenStore

@Suite struct SnapshotStoreTests {
    @Test(arguments: Backend.available)
    func loadsOnceThenAppliesChangesInVersionOrder(_ backend: Backend) async throws {
        try await backend.withDatabase { database in
            let store = SQLStore(database: database)
            let now = Timestamp.truncated(Date())
            let tenant = Tenant(id: UUID(), slug: "acme", name: "Acme", createdAt: now, defaultEffect: .allow)
            let tool = Tool(
                id: UUID(), tenantID: tenant.id, name: "refund", description: "", risk: .low, capabilities: ["create"], approvalLevel: .autoApprove,
                endpoint: nil, compensation: nil, createdAt: now, updatedAt: now
            )
            try await store.write { repos in
                try await repos.tenants.insert(tenant)
                try await repos.tools.insert(tool)
            }
            let snapshots = SnapshotStore(store: store)
            #expect(snapshots.cached(tenantID: tenant.id) == nil)
            let loaded = try await snapshots.snapshot(tenantID: tenant.id)
            #expect(loaded.tools["refund"]?.tool.isActive == true)
            #expect(try await snapshots.snapshot(slug: "acme")?.tenant.id == tenant.id)

            var killed = tool
            killed.isActive = false
            killed.stateVersion = 2
            var restored = tool
            restored.stateVersion = 3
            // Restored (v3) is applied before the older kill (v2) arrives: the kill must not win.
            snapshots.apply(restored)
            snapshots.apply(killed)
            #expect(snapshots.cached(tenantID: tenant.id)?.tools["refund"]?.tool.stateVersion == 3)
            #expect(snapshots.cached(tenantID: tenant.id)?.tools["refund"]?.tool.isActive == true)

            // Decisions read the snapshot, not the database: a change written behind Warden's back is
            // not seen until the snapshot is refreshed.
            try await store.write { [killed] repos in try await repos.tools.update(killed) }
            #expect(try await snapshots.snapshot(tenantID: tenant.id).tools["refund"]?.tool.isActive == true)
            try await snapshots.refresh(tenantID: tenant.id)
            #expect(try await snapshots.snapshot(tenantID: tenant.id).tools["refund"]?.tool.isActive == false)
        }
    }
}
