import Foundation
import Testing
import WardenCore

@testable import WardenStore

/// The identity rules, run against each real database.
@Suite struct IdentityServiceTests {
    static let rootToken = "root-token-0123456789abcdefghij"

    func withService(_ backend: Backend, _ body: (IdentityService, SQLStore, Principal) async throws -> Void) async throws {
        try await backend.withDatabase { database in
            let store = SQLStore(database: database)
            let service = IdentityService(store: store)
            _ = try await service.bootstrap(adminToken: Self.rootToken)
            try await body(service, store, try await service.authenticate(secret: Self.rootToken))
        }
    }

    @Test(arguments: Backend.available)
    func bootstrapGeneratesOnceThenLeavesKeysAlone(_ backend: Backend) async throws {
        try await backend.withDatabase { database in
            let service = IdentityService(store: SQLStore(database: database))
            guard case .generated(_, let secret) = try await service.bootstrap(adminToken: nil) else {
                Issue.record("first start must generate a key")
                return
            }
            #expect(try await service.authenticate(secret: secret).isGlobalAdmin)
            #expect(try await service.bootstrap(adminToken: nil) == .alreadyBootstrapped)
            guard case .suppliedTokenInstalled(_, true) = try await service.bootstrap(adminToken: Self.rootToken) else {
                Issue.record("a supplied token must be installed")
                return
            }
            guard case .suppliedTokenInstalled(_, false) = try await service.bootstrap(adminToken: Self.rootToken) else {
                Issue.record("a supplied token is installed once")
                return
            }
            await #expect(throws: WardenError.self, "short tokens are refused") { try await service.bootstrap(adminToken: "short") }
        }
    }

    @Test(arguments: Backend.available)
    func tenantCreationIsAuditedInTheSameTransaction(_ backend: Backend) async throws {
        try await withService(backend) { service, store, root in
            let tenant = try await service.createTenant(by: root, slug: "acme", name: "Acme", reason: "onboarding")
            let events = try await store.read { try await $0.audit.list(AuditQuery(tenantID: tenant.id), PageRequest()) }
            #expect(events.items.count == 1)
            let event = try #require(events.items.first)
            #expect(event.action == "tenant.created")
            #expect(event.actor == root.actor)
            #expect(event.target == "tenant:acme")
            #expect(event.reason == "onboarding")
            #expect(event.createdAt == tenant.createdAt)
        }
    }

    @Test(arguments: Backend.available)
    func concurrentCreationOfOneSlugSucceedsOnce(_ backend: Backend) async throws {
        try await withService(backend) { service, store, root in
            let outcomes = await withTaskGroup(of: Result<Tenant, any Error>.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        do { return .success(try await service.createTenant(by: root, slug: "race", name: nil, reason: nil)) } catch {
                            return .failure(error)
                        }
                    }
                }
                var all: [Result<Tenant, any Error>] = []
                for await outcome in group { all.append(outcome) }
                return all
            }
            let successes = outcomes.filter { if case .success = $0 { true } else { false } }
            #expect(successes.count == 1)
            for case .failure(let error) in outcomes {
                #expect((error as? WardenError)?.code == .tenantExists, "got \(error)")
            }
            let audit = try await store.read { try await $0.audit.list(AuditQuery(action: "tenant.created"), PageRequest()) }
            #expect(audit.items.count == 1, "failed attempts leave no audit event")
        }
    }

    @Test(arguments: Backend.available)
    func concurrentCreationOfManySlugsAllLand(_ backend: Backend) async throws {
        try await withService(backend) { service, store, root in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<20 {
                    group.addTask { _ = try await service.createTenant(by: root, slug: "t\(index)", name: nil, reason: nil) }
                }
                try await group.waitForAll()
            }
            let page = try await store.read { try await $0.tenants.list(PageRequest(limit: 100)) }
            #expect(page.items.count == 20)
        }
    }

    @Test(arguments: Backend.available)
    func tenantKeysAreConfinedToTheirTenant(_ backend: Backend) async throws {
        try await withService(backend) { service, _, root in
            _ = try await service.createTenant(by: root, slug: "acme", name: nil, reason: nil)
            _ = try await service.createTenant(by: root, slug: "other", name: nil, reason: nil)
            let admin = try await service.createAPIKey(by: root, name: "acme-admin", role: .admin, tenantSlug: "acme", reason: nil)
            let acmeAdmin = try await service.authenticate(secret: admin.secret)

            // Keys it makes land in its own tenant.
            let made = try await service.createAPIKey(by: acmeAdmin, name: "ops", role: .operator, tenantSlug: nil, reason: nil)
            #expect(made.key.tenantID == acmeAdmin.tenantID)
            await #expect(throws: WardenError(.tenantNotFound, "tenant 'other' not found")) {
                try await service.createAPIKey(by: acmeAdmin, name: "x", role: .operator, tenantSlug: "other", reason: nil)
            }
            await #expect(throws: WardenError.self) { try await service.createTenant(by: acmeAdmin, slug: "mine", name: nil, reason: nil) }
            let listed = try await service.listTenants(by: acmeAdmin, page: PageRequest())
            #expect(listed.items.map(\.slug) == ["acme"])
            let keys = try await service.listAPIKeys(by: acmeAdmin, tenantSlug: nil, page: PageRequest())
            #expect(Set(keys.items.map(\.name)) == ["acme-admin", "ops"])
        }
    }

    @Test(arguments: Backend.available)
    func revocationTakesEffectAndProtectsTheLastGlobalAdmin(_ backend: Backend) async throws {
        try await withService(backend) { service, _, root in
            await #expect(throws: WardenError(.lastGlobalAdmin, "cannot revoke the last global admin key; create another first")) {
                try await service.revokeAPIKey(by: root, id: root.keyID, reason: nil)
            }
            let second = try await service.createAPIKey(by: root, name: "second", role: .admin, tenantSlug: nil, reason: nil)
            let revoked = try await service.revokeAPIKey(by: root, id: second.key.id, reason: "rotated")
            #expect(revoked.revokedAt != nil)
            await #expect(throws: WardenError(.unauthenticated, "invalid API key")) { try await service.authenticate(secret: second.secret) }
            await #expect(throws: WardenError(.apiKeyRevoked, "API key is already revoked")) {
                try await service.revokeAPIKey(by: root, id: second.key.id, reason: nil)
            }
        }
    }
}
