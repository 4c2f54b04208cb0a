import AsyncKit
import Metrics
import Synchronization

/// Connection pool metrics, per pool (`postgres`, `sqlite_read`, `sqlite_session`):
/// `warden_db_connections_in_use`, `warden_db_connections_waiting` (callers waiting for one),
/// `warden_db_pool_size`, and `warden_db_pool_timeouts_total` (a caller gave up waiting).
final class PoolMetrics: Sendable {
    private let inUse: Gauge
    private let waiting: Gauge
    private let timeouts: Counter
    private let counts = Mutex<(inUse: Int, waiting: Int)>((0, 0))

    init(pool: String, size: Int) {
        inUse = Gauge(label: "warden_db_connections_in_use", dimensions: [("pool", pool)])
        waiting = Gauge(label: "warden_db_connections_waiting", dimensions: [("pool", pool)])
        timeouts = Counter(label: "warden_db_pool_timeouts_total", dimensions: [("pool", pool)])
        Gauge(label: "warden_db_pool_size", dimensions: [("pool", pool)]).record(size)
        inUse.record(0)
        waiting.record(0)
    }

    /// Runs `body` on the connection `acquire` hands over: counted as waiting until `acquire` calls
    /// its argument with a connection, in use while `body` runs on it.
    func measure<Connection: Sendable, Result: Sendable>(
        acquire: (@escaping @Sendable (Connection) async throws -> Result) async throws -> Result,
        body: @escaping @Sendable (Connection) async throws -> Result
    ) async throws -> Result {
        let held = Atomic<Bool>(false)
        update { $0.waiting += 1 }
        do {
            return try await acquire { connection in
                held.store(true, ordering: .relaxed)
                self.update {
                    $0.waiting -= 1
                    $0.inUse += 1
                }
                defer { self.update { $0.inUse -= 1 } }
                return try await body(connection)
            }
        } catch {
            if !held.load(ordering: .relaxed) {
                update { $0.waiting -= 1 }
                if error is ConnectionPoolTimeoutError { timeouts.increment() }
            }
            throw error
        }
    }

    /// Connections in use and callers waiting now.
    var current: (inUse: Int, waiting: Int) { counts.withLock { $0 } }

    private func update(_ change: (inout (inUse: Int, waiting: Int)) -> Void) {
        let (inUseNow, waitingNow) = counts.withLock { counts in
            change(&counts)
            return (counts.inUse, counts.waiting)
        }
        inUse.record(inUseNow)
        waiting.record(waitingNow)
    }
}
