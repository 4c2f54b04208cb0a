import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import WardenCore

@testable import WardenServer

/// The dashboard's "Active bundle" panel reads three gauges: which version is active, since when,
/// and the running canary's share. They follow activation, canary and rollback, and a bundle that
/// leaves a role leaves its series.
@Suite struct BundleGaugeTests {
    @Test(arguments: Backend.available)
    func activeBundleAndCanaryGaugesFollowTheRollout(_ backend: Backend) async throws {
        let dependencies = ApplicationDependencies(registry: SharedMetrics.registry, announceGeneratedKey: { _ in })
        // Other suites' tenants are called acme; this one's name is its own, so its series are too.
        let slug = "gauges-\(UUID().uuidString.prefix(8).lowercased())"
        try await TestApp.run(backend, dependencies: dependencies) { client in
            #expect(try await client.send(.post, "/v1/tenants", json: #"{"slug":"\#(slug)"}"#).status == .created)
            func approved(_ version: String) async throws -> String {
                let created = try await client.send(.post, "/v1/tenants/\(slug)/bundles", json: RolloutAPITests.bundle(version))
                #expect(created.status == .created, "\(created.text)")
                let id = try #require(try created.object()["id"] as? String)
                try await client.approveBundle(tenant: slug, id)
                return id
            }
            func series(_ name: String) async throws -> [String] {
                try await client.send(.get, "/metrics", token: nil).text.split(separator: "\n").map(String.init)
                    .filter { $0.hasPrefix(name + "{") && $0.contains(#"tenant="\#(slug)""#) }
            }
            #expect(try await series("warden_bundle_active_info").isEmpty, "no bundle yet")

            let v1 = try await approved("1.0.0")
            let before = Date().timeIntervalSince1970
            #expect(try await client.send(.post, "/v1/tenants/\(slug)/bundles/\(v1)/activate").status == .ok)
            #expect(try await series("warden_bundle_active_info") == [#"warden_bundle_active_info{tenant="\#(slug)",version="1.0.0"} 1.0"#])
            let since = try #require(try await series("warden_bundle_active_since_seconds").first?.split(separator: " ").last.flatMap { Double($0) })
            #expect(abs(since - before) < 5, "activated at \(since), asked at \(before)")

            let v2 = try await approved("1.1.0")
            let canary = try await client.send(
                .post, "/v1/tenants/\(slug)/bundles/\(v2)/promote", json: #"{"to":"canary_10","reason":"start canary"}"#)
            #expect(canary.status == .ok, "\(canary.text)")
            #expect(try await series("warden_bundle_canary_percent") == [#"warden_bundle_canary_percent{tenant="\#(slug)",version="1.1.0"} 10.0"#])

            // Rolled back: the canary's series goes; 1.0.0 stays active.
            #expect(
                try await client.send(.post, "/v1/tenants/\(slug)/bundles/\(v2)/rollback", json: #"{"reason":"drill"}"#).status == .ok)
            #expect(try await series("warden_bundle_canary_percent").isEmpty)
            #expect(try await series("warden_bundle_active_info") == [#"warden_bundle_active_info{tenant="\#(slug)",version="1.0.0"} 1.0"#])

            // Forced to active: the version changes and the old one's series goes.
            let v3 = try await approved("1.2.0")
            #expect(
                try await client.send(
                    .post, "/v1/tenants/\(slug)/bundles/\(v3)/promote", json: #"{"to":"active","force":true,"reason":"hotfix"}"#
                ).status == .ok)
            #expect(try await series("warden_bundle_active_info") == [#"warden_bundle_active_info{tenant="\#(slug)",version="1.2.0"} 1.0"#])
        }
    }
}
