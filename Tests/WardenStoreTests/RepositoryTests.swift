import Foundation
import Testing
import WardenCore

@testable import WardenStore

@Suite struct RepositoryTests {
    static let base = Date(timeIntervalSince1970: 1_795_000_000)

    func tenant(_ slug: String, offset: Double = 0) -> Tenant {
        Tenant(id: UUID(), slug: slug, name: slug.uppercased(), createdAt: Self.base.addingTimeInterval(offset))
    }

    @Test(arguments: Backend.available)
    func tenantsInsertFindAndRejectDuplicateSlugs(_ backend: Backend) async throws {
        try await backend.withDatabase { database in
            let store = SQLStore(database: database)
            let acme = tenant("acme")
            try await store.write { try await $0.tenants.insert(acme) }
            #expect(try await store.read { try await $0.tenants.find(slug: "acme") } == acme)
            #expect(try await store.read { try await $0.tenants.find(id: acme.id) } == acme)
            #expect(try await store.read { try await $0.tenants.find(slug: "nope") } == nil)
            await #expect(throws: WardenError(.tenantExists, "a tenant with slug 'acme' already exists")) {
                try await store.write { [tenant = self.tenant("acme")] in try await $0.tenants.insert(tenant) }
            }
        }
    }

    @Test(arguments: Backend.available)
    func tenantsPageInCreationOrderWithoutGapsOrRepeats(_ backend: Backend) async throws {
        try await backend.withDatabase { database in
            let store = SQLStore(database: database)
            // Two tenants share a timestamp to exercise the id tie-break.
            let tenants = [
                tenant("t-a", offset: 1), tenant("t-b", offset: 2), tenant("t-c", offset: 2), tenant("t-d", offset: 3), tenant("t-e", offset: 4),
            ]
            for tenant in tenants.shuffled() { try await store.write { try await $0.tenants.insert(tenant) } }
            var seen: [Tenant] = []
            var cursor: Cursor?
            var pages = 0
            repeat {
                let page = try await store.read { [cursor] in try await $0.tenants.list(PageRequest(limit: 2, after: cursor)) }
                seen += page.items
                cursor = try page.nextCursor.map { try Cursor.decode($0) }
                pages += 1
            } while cursor != nil && pages < 10
            #expect(pages == 3)
            let expected = tenants.sorted { ($0.createdAt, $0.id.uuidString.lowercased()) < ($1.createdAt, $1.id.uuidString.lowercased()) }
            #expect(seen == expected)
        }
    }

    @Test(arguments: Backend.available)
    func apiKeysFindByHashRevokeAndCount(_ backend: Backend) async throws {
        try await backend.withDatabase { database in
            let store = SQLStore(database: database)
            let acme = tenant("acme")
            let global = APIKey(
                id: UUID(), name: "root", role: .admin, tenantID: nil, prefix: "abcdefgh", keyHash: APIKeySecret.hash("s1"),
                createdAt: Self.base, createdBy: "system"
            )
            let scoped = APIKey(
                id: UUID(), name: "ops", role: .operator, tenantID: acme.id, prefix: "ijklmnop", keyHash: APIKeySecret.hash("s2"),
                createdAt: Self.base.addingTimeInterval(1), createdBy: global.id.uuidString
            )
            try await store.write { repos in
                try await repos.tenants.insert(acme)
                try await repos.apiKeys.insert(global)
                try await repos.apiKeys.insert(scoped)
            }
            #expect(try await store.read { try await $0.apiKeys.find(hash: APIKeySecret.hash("s2")) } == scoped)
            #expect(try await store.read { try await $0.apiKeys.find(hash: APIKeySecret.hash("other")) } == nil)
            #expect(try await store.read { try await $0.apiKeys.countAll() } == 2)
            #expect(try await store.read { try await $0.apiKeys.countActiveGlobal(role: .admin) } == 1)
            #expect(try await store.read { try await $0.apiKeys.list(tenantID: acme.id, PageRequest()) }.items == [scoped])
            #expect(try await store.read { try await $0.apiKeys.list(tenantID: nil, PageRequest()) }.items == [global, scoped])

            let revokedAt = Self.base.addingTimeInterval(60)
            try await store.write { try await $0.apiKeys.markRevoked(id: global.id, at: revokedAt) }
            #expect(try await store.read { try await $0.apiKeys.find(id: global.id) }?.revokedAt == revokedAt)
            #expect(try await store.read { try await $0.apiKeys.countActiveGlobal(role: .admin) } == 0)
        }
    }

    @Test(arguments: Backend.available)
    func auditEventsListNewestFirstWithFilters(_ backend: Backend) async throws {
        try await backend.withDatabase { database in
            let store = SQLStore(database: database)
            let acme = tenant("acme")
            let other = tenant("other")
            func event(_ tenant: Tenant?, _ action: String, _ offset: Double) -> AuditEvent {
                AuditEvent(
                    id: UUID(), tenantID: tenant?.id, actor: "api_key:x", action: action, target: "t", reason: offset == 1 ? "why" : nil,
                    details: ["n": "\(offset)"], createdAt: Self.base.addingTimeInterval(offset)
                )
            }
            let events = [
                event(acme, "tenant.created", 1), event(acme, "api_key.created", 2), event(other, "tenant.created", 3),
                event(nil, "api_key.created", 4),
            ]
            try await store.write { repos in
                try await repos.tenants.insert(acme)
                try await repos.tenants.insert(other)
                for event in events { try await repos.audit.append(event) }
            }
            let all = try await store.read { try await $0.audit.list(AuditQuery(), PageRequest()) }
            #expect(all.items == events.reversed())
            #expect(all.nextCursor == nil)
            let acmeOnly = try await store.read { try await $0.audit.list(AuditQuery(tenantID: acme.id), PageRequest()) }
            #expect(acmeOnly.items == [events[1], events[0]])
            let created = try await store.read { try await $0.audit.list(AuditQuery(action: "tenant.created"), PageRequest()) }
            #expect(created.items == [events[2], events[0]])
            let first = try await store.read { try await $0.audit.list(AuditQuery(), PageRequest(limit: 3)) }
            #expect(first.items == Array(events.reversed().prefix(3)))
            let rest = try await store.read {
                try await $0.audit.list(AuditQuery(), PageRequest(limit: 3, after: try Cursor.decode(first.nextCursor!)))
            }
            #expect(rest.items == [events[0]])
        }
    }

    @Test(arguments: Backend.available)
    func aFailedWriteLeavesNothingBehind(_ backend: Backend) async throws {
        struct Boom: Error {}
        try await backend.withDatabase { database in
            let store = SQLStore(database: database)
            await #expect(throws: Boom.self) {
                try await store.write { [tenant = self.tenant("half")] repos in
                    try await repos.tenants.insert(tenant)
                    throw Boom()
                }
            }
            #expect(try await store.read { try await $0.tenants.find(slug: "half") } == nil)
            // The session is usable afterwards.
            try await store.write { [tenant = self.tenant("whole")] in try await $0.tenants.insert(tenant) }
            #expect(try await store.read { try await $0.tenants.find(slug: "whole") } != nil)
        }
    }
}

@Suite struct TenantSlugLookupTests {
    @Test(arguments: Backend.available)
    func slugsForManyIdsInOneQuery(_ backend: Backend) async throws {
        try await backend.withDatabase { database in
            let store = SQLStore(database: database)
            let tenants = (0..<5).map { Tenant(id: UUID(), slug: "s\($0)", name: "S", createdAt: Date()) }
            try await store.write { repos in for tenant in tenants { try await repos.tenants.insert(tenant) } }
            let asked = [tenants[0].id, tenants[3].id, tenants[3].id, UUID()]
            let slugs = try await store.read { try await $0.tenants.slugs(ids: asked) }
            #expect(slugs == [tenants[0].id: "s0", tenants[3].id: "s3"], "duplicates collapse and unknown ids are left out")
            #expect(try await store.read { try await $0.tenants.slugs(ids: [UUID]()) }.isEmpty)
        }
    }
}
