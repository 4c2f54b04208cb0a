import AsyncKit
import Foundation
import Synchronization
import Testing

@testable import WardenStore

/// Database pool metrics: a caller counts as waiting until it holds a connection, as in use while its
/// work runs, and a caller that gives up waiting counts a timeout; the gauges follow.
@Suite struct PoolMetricsTests {
    @Test func waitingInUseAndTimeouts() async throws {
        // The metrics system first: gauges made before it is bootstrapped report nowhere.
        _ = SharedMetrics.registry
        let pool = "test_\(UUID().uuidString.prefix(8).lowercased())"
        let metrics = PoolMetrics(pool: pool, size: 3)
        #expect(SharedMetrics.value(of: "warden_db_pool_size", labels: #"pool="\#(pool)""#) == 3)
        let (gate, open) = AsyncStream.makeStream(of: Void.self)
        let (work, finish) = AsyncStream.makeStream(of: Void.self)
        let task = Task { () async throws -> Int in
            try await metrics.measure(
                acquire: { (held: @escaping @Sendable (Int) async throws -> Int) async throws -> Int in
                    for await _ in gate { break }
                    return try await held(1)
                },
                body: { (connection: Int) in
                    for await _ in work { break }
                    return connection + 1
                })
        }
        #expect(try await eventually { metrics.current == (0, 1) }, "waiting for a connection")
        #expect(SharedMetrics.value(of: "warden_db_connections_waiting", labels: #"pool="\#(pool)""#) == 1)
        open.yield()
        #expect(try await eventually { metrics.current == (1, 0) }, "holding it")
        #expect(SharedMetrics.value(of: "warden_db_connections_in_use", labels: #"pool="\#(pool)""#) == 1)
        finish.yield()
        #expect(try await task.value == 2)
        #expect(metrics.current == (0, 0))
        #expect(SharedMetrics.value(of: "warden_db_connections_in_use", labels: #"pool="\#(pool)""#) == 0)

        // A caller that gives up waiting: a timeout, and no longer waiting.
        await #expect(throws: ConnectionPoolTimeoutError.self) {
            try await metrics.measure(
                acquire: { (_: @escaping @Sendable (Int) async throws -> Int) async throws -> Int in
                    throw ConnectionPoolTimeoutError.connectionRequestTimeout
                },
                body: { (connection: Int) in connection })
        }
        #expect(metrics.current == (0, 0))
        #expect(SharedMetrics.value(of: "warden_db_pool_timeouts_total", labels: #"pool="\#(pool)""#) == 1)
    }
}
