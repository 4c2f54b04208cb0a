import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import WardenCore

@testable import WardenServer

/// Signed export and import of bundles: tampering, expiry, version clashes, both kinds of key.
@Suite struct BundleTransferTests {
    static let secret = "shared-between-staging-and-prod-0123456789"

    static func exported(_ client: some TestClientProtocol) async throws -> (id: String, text: String) {
        let created = try await client.send(.post, "/v1/tenants/acme/bundles", json: bundleJSON(version: "1.0.0"))
        let id = try #require(try created.object()["id"] as? String)
        let exported = try await client.send(.get, "/v1/tenants/acme/bundles/\(id)/export")
        #expect(exported.status == .ok, "\(exported.text)")
        return (id, exported.text)
    }

    @Test(arguments: Backend.available)
    func signedWithASharedSecret(_ backend: Backend) async throws {
        let settings: (inout WardenConfiguration) -> Void = {
            $0.bundleSigningSecret = Self.secret
            $0.bundleSigningKeyID = "staging-prod"
        }
        try await TestApp.run(backend, configure: settings) { client in
            _ = try await Demo.setUp(client)
            #expect(try await client.send(.post, "/v1/tenants", json: #"{"slug":"other"}"#).status == .created)
            let (_, text) = try await Self.exported(client)
            let export = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
            let signature = try #require(export["signature"] as? [String: Any])
            #expect(signature["alg"] as? String == "HMAC-SHA256")
            #expect(signature["key_id"] as? String == "staging-prod")
            #expect(export["format"] as? String == "warden.bundle.v1")

            // Into another tenant: a draft that still needs approval.
            let imported = try await client.send(.post, "/v1/tenants/other/bundles/import", json: text)
            #expect(imported.status == .created, "\(imported.text)")
            #expect(try imported.object()["status"] as? String == "draft")
            #expect(try imported.object()["version"] as? String == "1.0.0")
            // The version exists now: 409, unless renamed.
            let again = try await client.send(.post, "/v1/tenants/other/bundles/import", json: text)
            #expect(try again.errorCode() == "bundle_version_exists")
            let renamed = try await client.send(
                .post, "/v1/tenants/other/bundles/import", json: String(text.dropLast()) + #","import_as_version":"1.0.1"}"#)
            #expect(renamed.status == .created, "\(renamed.text)")
            #expect(try renamed.object()["version"] as? String == "1.0.1")

            // Any change to the signed part is refused.
            let tampered = text.replacingOccurrences(of: "refund above 100", with: "refund above 999")
            #expect(tampered != text)
            let refused = try await client.send(.post, "/v1/tenants/other/bundles/import", json: tampered)
            #expect(refused.status == .badRequest)
            #expect(try refused.errorCode() == "invalid_signature")
            let later = text.replacingOccurrences(of: #""expires_at":"2"#, with: #""expires_at":"3"#)
            #expect(try await client.send(.post, "/v1/tenants/other/bundles/import", json: later).errorCode() == "invalid_signature")
            #expect(try await client.send(.post, "/v1/tenants/other/bundles/import", json: #"{"bundle":{}}"#).errorCode() == "invalid_signature")

            // Signed by another secret, or expired: refused.
            let bundle = PolicyBundle(
                id: UUID(), tenantID: UUID(), version: SemanticVersion("3.0.0")!, status: .draft, modules: ["a.rego": "package warden\n"],
                data: .object([:]), entrypoint: "data.warden.decision", defaultEffect: .deny, notes: nil, createdBy: "x", createdAt: Date(),
                updatedAt: Date())
            let foreign = try BundleTransfer.export(
                bundle, tenantSlug: "acme",
                signer: BundleSigner(key: .hmac(id: "staging-prod", secret: Array("another-secret-0123456789abcdef!!".utf8))),
                now: Date())
            #expect(try await client.send(.post, "/v1/tenants/other/bundles/import", json: foreign.canonicalText).errorCode() == "invalid_signature")
            let old = try BundleTransfer.export(
                bundle, tenantSlug: "acme", signer: BundleSigner(key: .hmac(id: "staging-prod", secret: Array(Self.secret.utf8))),
                now: Date().addingTimeInterval(-90_000))
            let expired = try await client.send(.post, "/v1/tenants/other/bundles/import", json: old.canonicalText)
            #expect(expired.status == .badRequest)
            #expect(try expired.errorCode() == "signature_expired")
            let fresh = try BundleTransfer.export(
                bundle, tenantSlug: "acme", signer: BundleSigner(key: .hmac(id: "staging-prod", secret: Array(Self.secret.utf8))), now: Date())
            let skipped = try await client.send(.post, "/v1/tenants/other/bundles/import", json: fresh.canonicalText)
            #expect(try skipped.errorCode() == "version_skipped")

            let audit = try await client.send(.get, "/v1/audit-events?limit=100").array("items").compactMap { $0["action"] as? String }
            #expect(audit.contains("bundle.exported"))
            #expect(audit.filter { $0 == "bundle.imported" }.count == 2)
        }
    }

    @Test func signedWithTheDeploymentsOwnKey() async throws {
        try await TestApp.run(.sqlite) { client in
            _ = try await Demo.setUp(client)
            #expect(try await client.send(.post, "/v1/tenants", json: #"{"slug":"other"}"#).status == .created)
            let (_, text) = try await Self.exported(client)
            #expect(text.contains(#""alg":"Ed25519""#))
            #expect(try await client.send(.post, "/v1/tenants/other/bundles/import", json: text).status == .created)
            let tampered = text.replacingOccurrences(of: #""default_effect":"deny""#, with: #""default_effect":"allow""#)
            #expect(tampered != text)
            #expect(try await client.send(.post, "/v1/tenants/other/bundles/import", json: tampered).errorCode() == "invalid_signature")
        }
    }
}
