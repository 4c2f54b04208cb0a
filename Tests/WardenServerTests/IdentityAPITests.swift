import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@testable import WardenServer

@Suite struct TenantAPITests {
    @Test(arguments: Backend.available)
    func createShowListAndDuplicate(_ backend: Backend) async throws {
        try await TestApp.run(backend) { client in
            let created = try await client.send(.post, "/v1/tenants", json: #"{"slug":"acme","name":"Acme Inc","reason":"onboarding"}"#)
            #expect(created.status == .created)
            let tenant = try created.object()
            #expect(tenant["slug"] as? String == "acme")
            #expect(tenant["name"] as? String == "Acme Inc")
            #expect((tenant["created_at"] as? String)?.hasSuffix("Z") == true)

            let shown = try await client.send(.get, "/v1/tenants/acme")
            #expect(shown.status == .ok)
            #expect(try shown.object()["id"] as? String == tenant["id"] as? String)

            let duplicate = try await client.send(.post, "/v1/tenants", json: #"{"slug":"acme"}"#)
            #expect(duplicate.status == .conflict)
            #expect(try duplicate.errorCode() == "tenant_exists")

            try await client.send(.post, "/v1/tenants", json: #"{"slug":"beta"}"#)
            let list = try await client.send(.get, "/v1/tenants?limit=1")
            let page = try list.object()
            #expect((page["items"] as? [[String: Any]])?.map { $0["slug"] as? String } == ["acme"])
            let cursor = try #require(page["next_cursor"] as? String)
            let next = try await client.send(.get, "/v1/tenants?limit=1&cursor=\(cursor)").object()
            #expect((next["items"] as? [[String: Any]])?.map { $0["slug"] as? String } == ["beta"])
            #expect(next["next_cursor"] is NSNull)
        }
    }

    @Test func unknownTenantIs404() async throws {
        try await TestApp.run(.sqlite) { client in
            let response = try await client.send(.get, "/v1/tenants/nope")
            #expect(response.status == .notFound)
            #expect(try response.errorCode() == "tenant_not_found")
        }
    }

    @Test func malformedJSONIs400() async throws {
        try await TestApp.run(.sqlite) { client in
            let response = try await client.send(.post, "/v1/tenants", json: #"{"slug": "acme""#)
            #expect(response.status == .badRequest)
            #expect(try response.errorCode() == "malformed_json")
            let notObject = try await client.send(.post, "/v1/tenants", json: #"["acme"]"#)
            #expect(notObject.status == .badRequest)
            #expect(try notObject.errorCode() == "malformed_json")
            let empty = try await client.send(.post, "/v1/tenants", json: "")
            #expect(try empty.errorCode() == "malformed_json")
        }
    }

    @Test func missingFieldIs400AndNamesTheField() async throws {
        try await TestApp.run(.sqlite) { client in
            let response = try await client.send(.post, "/v1/tenants", json: #"{"name":"Acme"}"#)
            #expect(response.status == .badRequest)
            #expect(try response.errorCode() == "missing_field")
            #expect(response.text.contains("'slug'"))
        }
    }

    @Test func wrongTypeAndInvalidSlugAre400() async throws {
        try await TestApp.run(.sqlite) { client in
            let wrongType = try await client.send(.post, "/v1/tenants", json: #"{"slug":42}"#)
            #expect(wrongType.status == .badRequest)
            #expect(try wrongType.errorCode() == "invalid_field")
            let badSlug = try await client.send(.post, "/v1/tenants", json: #"{"slug":"Not A Slug"}"#)
            #expect(badSlug.status == .badRequest)
            #expect(try badSlug.errorCode() == "invalid_field")
            let badLimit = try await client.send(.get, "/v1/tenants?limit=9999")
            #expect(try badLimit.errorCode() == "invalid_field")
            let badCursor = try await client.send(.get, "/v1/tenants?cursor=garbage")
            #expect(try badCursor.errorCode() == "invalid_cursor")
        }
    }

    @Test func oversizedBodyIs413AndWritesNothing() async throws {
        try await TestApp.run(.sqlite) { client in
            let big = #"{"slug":"big","name":""# + String(repeating: "x", count: 2 << 20) + #""}"#
            let response = try await client.send(.post, "/v1/tenants", json: big)
            #expect(response.status == .contentTooLarge)
            #expect(try response.errorCode() == "payload_too_large")
            #expect(try await client.send(.get, "/v1/tenants/big").status == .notFound)
        }
    }

    @Test func unknownRouteIsJSON404() async throws {
        try await TestApp.run(.sqlite) { client in
            let response = try await client.send(.get, "/v1/nothing-here")
            #expect(response.status == .notFound)
            #expect(try response.errorCode() == "not_found")
        }
    }
}

@Suite struct AuthenticationTests {
    @Test(arguments: [nil, "wdn_not-a-real-key", "Basic abc"] as [String?])
    func missingOrUnknownTokenIs401(_ token: String?) async throws {
        try await TestApp.run(.sqlite) { client in
            var headers = HTTPFields()
            if let token { headers[.authorization] = token.hasPrefix("Basic") ? token : "Bearer \(token)" }
            let response = try await client.send(.get, "/v1/tenants", token: nil, headers: headers)
            #expect(response.status == .unauthorized)
            #expect(try response.errorCode() == "unauthenticated")
            #expect(response.headers[.wwwAuthenticate] == "Bearer")
        }
    }

    @Test func probesAndDocsNeedNoToken() async throws {
        try await TestApp.run(.sqlite) { client in
            for path in ["/healthz", "/readyz", "/metrics", "/openapi.json"] {
                let status = try await client.send(.get, path, token: nil).status
                #expect(status != .unauthorized, "\(path)")
            }
        }
    }
}

@Suite struct APIKeyAPITests {
    /// Creates tenants `acme` and `other` and a key of `role` in acme; returns its secret and id.
    static func makeKey(_ client: any TestClientProtocol, role: String, tenant: String? = "acme") async throws -> (String, String) {
        let tenantField = tenant.map { #","tenant":"\#($0)""# } ?? ""
        let response = try await client.send(.post, "/v1/api-keys", json: #"{"name":"k-\#(role)","role":"\#(role)"\#(tenantField),"reason":"test"}"#)
        #expect(response.status == .created, "\(response.text)")
        let object = try response.object()
        return (try #require(object["key"] as? String), try #require(object["id"] as? String))
    }

    static func twoTenants(_ client: any TestClientProtocol) async throws {
        #expect(try await client.send(.post, "/v1/tenants", json: #"{"slug":"acme"}"#).status == .created)
        #expect(try await client.send(.post, "/v1/tenants", json: #"{"slug":"other"}"#).status == .created)
    }

    @Test(arguments: Backend.available)
    func tenantIsolationAndRoles(_ backend: Backend) async throws {
        try await TestApp.run(backend) { client in
            try await Self.twoTenants(client)
            let (operatorKey, _) = try await Self.makeKey(client, role: "operator")

            #expect(try await client.send(.get, "/v1/tenants/acme", token: operatorKey).status == .ok)
            let foreign = try await client.send(.get, "/v1/tenants/other", token: operatorKey)
            #expect(foreign.status == .notFound, "another tenant's resources are invisible")
            #expect(try foreign.errorCode() == "tenant_not_found")
            let forbidden = try await client.send(.post, "/v1/tenants", token: operatorKey, json: #"{"slug":"mine"}"#)
            #expect(forbidden.status == .forbidden)
            #expect(try forbidden.errorCode() == "forbidden")
            #expect(try await client.send(.get, "/v1/api-keys", token: operatorKey).status == .forbidden)
            #expect(try await client.send(.get, "/v1/tenants/acme/audit-events", token: operatorKey).status == .forbidden)
            let listed = try await client.send(.get, "/v1/tenants", token: operatorKey).object()
            #expect((listed["items"] as? [[String: Any]])?.map { $0["slug"] as? String } == ["acme"])
            #expect(try await client.send(.get, "/v1/tenants/other/audit-events", token: operatorKey).status == .notFound)
        }
    }

    @Test(arguments: Backend.available)
    func tenantAdminManagesOnlyItsOwnKeys(_ backend: Backend) async throws {
        try await TestApp.run(backend) { client in
            try await Self.twoTenants(client)
            let (tenantAdmin, _) = try await Self.makeKey(client, role: "admin")
            let (_, otherKeyID) = try await Self.makeKey(client, role: "auditor", tenant: "other")

            let own = try await client.send(.post, "/v1/api-keys", token: tenantAdmin, json: #"{"name":"ops","role":"operator"}"#)
            #expect(own.status == .created)
            #expect(try own.object()["tenant"] as? String == "acme")
            let elsewhere = try await client.send(
                .post, "/v1/api-keys", token: tenantAdmin, json: #"{"name":"x","role":"operator","tenant":"other"}"#)
            #expect(elsewhere.status == .notFound)
            let revokeForeign = try await client.send(.delete, "/v1/api-keys/\(otherKeyID)", token: tenantAdmin)
            #expect(revokeForeign.status == .notFound)
            #expect(try revokeForeign.errorCode() == "api_key_not_found")
            let keys = try await client.send(.get, "/v1/api-keys", token: tenantAdmin).object()
            let tenants = Set((keys["items"] as? [[String: Any]] ?? []).compactMap { $0["tenant"] as? String })
            #expect(tenants == ["acme"])
        }
    }

    @Test(arguments: Backend.available)
    func keysAreShownOnceAndStoredOnlyAsHashes(_ backend: Backend) async throws {
        try await TestApp.run(backend) { client in
            try await Self.twoTenants(client)
            let (secret, id) = try await Self.makeKey(client, role: "auditor")
            let list = try await client.send(.get, "/v1/api-keys?tenant=acme")
            #expect(list.status == .ok)
            #expect(!list.text.contains(secret))
            #expect(!list.text.contains("key_hash"))
            let item = try #require((try list.object()["items"] as? [[String: Any]])?.first { $0["id"] as? String == id })
            #expect(item["key"] == nil)
            #expect(item["prefix"] as? String == String(secret.dropFirst(4).prefix(8)))
        }
    }

    @Test(arguments: Backend.available)
    func revokedKeysStopWorkingAtOnce(_ backend: Backend) async throws {
        try await TestApp.run(backend) { client in
            try await Self.twoTenants(client)
            let (secret, id) = try await Self.makeKey(client, role: "operator")
            #expect(try await client.send(.get, "/v1/tenants/acme", token: secret).status == .ok)
            let revoked = try await client.send(.delete, "/v1/api-keys/\(id)?reason=leaked")
            #expect(revoked.status == .ok)
            #expect(try revoked.object()["revoked_at"] is String)
            let after = try await client.send(.get, "/v1/tenants/acme", token: secret)
            #expect(after.status == .unauthorized)
            let again = try await client.send(.delete, "/v1/api-keys/\(id)")
            #expect(again.status == .conflict)
            #expect(try again.errorCode() == "api_key_revoked")
        }
    }

    @Test func badKeyRequestsAre400() async throws {
        try await TestApp.run(.sqlite) { client in
            try await Self.twoTenants(client)
            let role = try await client.send(.post, "/v1/api-keys", json: #"{"name":"x","role":"superuser","tenant":"acme"}"#)
            #expect(try role.errorCode() == "invalid_field")
            #expect(role.text.contains("admin, operator, approver, auditor, author"))
            let missing = try await client.send(.post, "/v1/api-keys", json: #"{"role":"admin"}"#)
            #expect(try missing.errorCode() == "missing_field")
            let globalOperator = try await client.send(.post, "/v1/api-keys", json: #"{"name":"x","role":"operator"}"#)
            #expect(try globalOperator.errorCode() == "tenant_required")
            let notAnID = try await client.send(.delete, "/v1/api-keys/not-a-uuid")
            #expect(notAnID.status == .notFound)
        }
    }

    @Test func lastGlobalAdminCannotBeRevoked() async throws {
        try await TestApp.run(.sqlite) { client in
            let keys = try await client.send(.get, "/v1/api-keys").object()
            let root = try #require((keys["items"] as? [[String: Any]])?.first)
            let response = try await client.send(.delete, "/v1/api-keys/\(try #require(root["id"] as? String))")
            #expect(response.status == .conflict)
            #expect(try response.errorCode() == "last_global_admin")
        }
    }
}

@Suite struct AuditAPITests {
    @Test(arguments: Backend.available)
    func everyMutationIsAudited(_ backend: Backend) async throws {
        try await TestApp.run(backend) { client in
            try await APIKeyAPITests.twoTenants(client)
            let (auditorKey, _) = try await APIKeyAPITests.makeKey(client, role: "auditor")
            let (_, operatorID) = try await APIKeyAPITests.makeKey(client, role: "operator")
            #expect(try await client.send(.delete, "/v1/api-keys/\(operatorID)?reason=rotation").status == .ok)

            let tenantEvents = try await client.send(.get, "/v1/tenants/acme/audit-events", token: auditorKey)
            #expect(tenantEvents.status == .ok)
            let items = try #require(try tenantEvents.object()["items"] as? [[String: Any]])
            #expect(items.map { $0["action"] as? String } == ["api_key.revoked", "api_key.created", "api_key.created", "tenant.created"])
            let revoke = items[0]
            #expect(revoke["target"] as? String == "api_key:\(operatorID)")
            #expect(revoke["reason"] as? String == "rotation")
            #expect((revoke["actor"] as? String)?.hasPrefix("api_key:") == true)
            #expect(revoke["tenant"] as? String == "acme")
            #expect(items.allSatisfy { $0["created_at"] is String })

            // The global view needs a global admin and sees both tenants.
            #expect(try await client.send(.get, "/v1/audit-events", token: auditorKey).status == .forbidden)
            let global = try await client.send(.get, "/v1/audit-events?action=tenant.created").object()
            let slugs = (global["items"] as? [[String: Any]] ?? []).compactMap { $0["tenant"] as? String }
            #expect(Set(slugs) == ["acme", "other"])
            let filtered = try await client.send(.get, "/v1/audit-events?tenant=other").object()
            #expect((filtered["items"] as? [[String: Any]] ?? []).allSatisfy { $0["tenant"] as? String == "other" })
        }
    }
}
