import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Testing
import WardenCore
import WardenStore

@testable import WardenServer

/// Two replicas on one PostgreSQL database act as one system: what one applies (a kill, a restore,
/// panic, a bundle activation, a token revocation), the other enforces shortly after, told by
/// LISTEN/NOTIFY. (SQLite has one process; nothing to test there.)
@Suite struct ReplicaTests {
    /// Polls `condition` every 5 ms; returns how long it took to hold, or nil after 5 s.
    static func timeUntil(_ condition: () async throws -> Bool) async throws -> Duration? {
        let start = ContinuousClock.now
        while ContinuousClock.now - start < .seconds(5) {
            if try await condition() { return ContinuousClock.now - start }
            try await Task.sleep(for: .milliseconds(5))
        }
        return nil
    }

    @Test func changesOnOneReplicaAreInForceOnTheOther() async throws {
        guard Backend.available.contains(.postgres) else { return }
        let url = try Backend.postgres.freshDatabaseURL()
        var logger = Logger(label: "warden.test")
        logger.logLevel = .warning
        let configuration = TestApp.configuration(databaseURL: url)
        let first = try await buildApplication(configuration, logger: logger, dependencies: ApplicationDependencies(announceGeneratedKey: { _ in }))
        let second = try await buildApplication(configuration, logger: logger, dependencies: ApplicationDependencies(announceGeneratedKey: { _ in }))
        try await first.test(.live) { a in
            try await second.test(.live) { b in
                let demo = try await Demo.setUp(a)
                // b learns of acme on first use, then keeps it in memory.
                #expect(try await demo.decide(b).decision().0 == "allow")
                var took: [String: Duration] = [:]

                #expect(try await a.send(.post, "/v1/tenants/acme/tools/refund/kill", json: #"{"reason":"INC-1"}"#).status == .ok)
                took["kill"] = try await Self.timeUntil { try await demo.decide(b).decision().1 == ["tool_disabled"] }
                #expect(try await a.send(.post, "/v1/tenants/acme/tools/refund/restore", json: #"{"reason":"ok"}"#).status == .ok)
                took["restore"] = try await Self.timeUntil { try await demo.decide(b).decision().0 == "allow" }

                #expect(try await a.send(.post, "/v1/tenants/acme/panic", json: #"{"enabled":true,"reason":"drill"}"#).status == .ok)
                took["panic"] = try await Self.timeUntil { try await demo.decide(b).decision().1 == ["tenant_panic"] }
                #expect(try await a.send(.post, "/v1/tenants/acme/panic", json: #"{"enabled":false,"reason":"over"}"#).status == .ok)
                took["panic off"] = try await Self.timeUntil { try await demo.decide(b).decision().0 == "allow" }

                let v1 = try await RolloutAPITests.approved(a, "1.0.0")
                #expect(try await a.send(.post, "/v1/tenants/acme/bundles/\(v1)/activate").status == .ok)
                took["bundle"] = try await Self.timeUntil { try await demo.decide(b).decision().1 == ["v1.0.0"] }

                #expect(try await a.send(.delete, "/v1/tenants/acme/tokens/\(demo.tokenID)?reason=leaked").status == .ok)
                took["revocation"] = try await Self.timeUntil { try await demo.decide(b).status == .unauthorized }

                for (change, duration) in took.sorted(by: { $0.key < $1.key }) { print("replica: \(change) in force on the other after \(duration)") }
                for change in ["kill", "restore", "panic", "panic off", "bundle", "revocation"] {
                    #expect(took[change] != nil, "\(change) never reached the other replica")
                }
            }
        }
    }
}
