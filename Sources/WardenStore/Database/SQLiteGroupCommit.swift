import SQLKit
import SQLiteKit
import Synchronization
import WardenCore

/// Group commit of SQLite write transactions. Transactions that arrive while a commit is under way
/// queue up; the next batch runs them one after another inside one `BEGIN … COMMIT`, each in its own
/// savepoint (so one that throws rolls back only its own writes), and answers each caller only after
/// the shared commit. One fsync then serves a whole batch, as the decision log's group commit does
/// for decisions. Alone, a transaction runs without a savepoint, exactly as before.
final class SQLiteGroupCommit: Sendable {
    private struct Job: Sendable {
        let run: @Sendable (any SQLDatabase) async throws -> Void
        let finish: @Sendable ((any Error)?) -> Void
    }

    private struct State {
        var queue: [Job] = []
        var running = false
    }

    /// The result of one job, written by its run and read by its finish, never at the same time.
    private final class Box<Value: Sendable>: @unchecked Sendable {
        var value: Value?
    }

    private let connection: SQLiteConnection
    private let lock: AsyncLock
    private let state = Mutex(State())
    /// At most this many transactions share a commit.
    private let batchLimit = 64

    init(connection: SQLiteConnection, lock: AsyncLock) {
        self.connection = connection
        self.lock = lock
    }

    func transaction<Result: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> Result) async throws -> Result {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Result, any Error>) in
            let box = Box<Result>()
            let job = Job(
                run: { db in box.value = try await body(db) },
                finish: { error in
                    if let error {
                        continuation.resume(throwing: error)
                    } else if let value = box.value {
                        continuation.resume(returning: value)
                    } else {
                        continuation.resume(throwing: StoreError(message: "transaction finished without a result"))
                    }
                })
            let start = state.withLock { state -> Bool in
                state.queue.append(job)
                guard !state.running else { return false }
                state.running = true
                return true
            }
            if start { Task { await self.drain() } }
        }
    }

    /// Runs batches until the queue is empty.
    private func drain() async {
        while true {
            let jobs = state.withLock { state -> [Job] in
                let taken = Array(state.queue.prefix(batchLimit))
                state.queue.removeFirst(taken.count)
                if taken.isEmpty { state.running = false }
                return taken
            }
            guard !jobs.isEmpty else { return }
            await run(jobs)
        }
    }

    private func run(_ jobs: [Job]) async {
        var outcomes = [(any Error)?](repeating: nil, count: jobs.count)
        do {
            outcomes = try await lock.withLock { [outcomes] in
                var outcomes = outcomes
                let db = connection.sql(queryLogLevel: nil)
                try await db.raw("BEGIN").run()
                do {
                    if jobs.count == 1 {
                        do { try await jobs[0].run(db) } catch { outcomes[0] = error }
                    } else {
                        // Savepoints of one name nest; ROLLBACK TO undoes back to the latest, this job's
                        // own. None is released: COMMIT releases them all, one statement fewer per job.
                        for (index, job) in jobs.enumerated() {
                            try await db.raw("SAVEPOINT warden_group").run()
                            do {
                                try await job.run(db)
                            } catch {
                                outcomes[index] = error
                                try await db.raw("ROLLBACK TO warden_group").run()
                            }
                        }
                    }
                    try await db.raw(outcomes.contains { $0 == nil } ? "COMMIT" : "ROLLBACK").run()
                } catch {
                    // BEGIN, a savepoint or the commit failed: nothing of this batch is kept.
                    try? await db.raw("ROLLBACK").run()
                    throw error
                }
                return outcomes
            }
        } catch {
            for index in outcomes.indices where outcomes[index] == nil { outcomes[index] = error }
        }
        for (job, outcome) in zip(jobs, outcomes) { job.finish(outcome) }
    }
}

/// Read-only SQLite connections, each used by one session at a time.
final class SQLiteReaders: Sendable {
    private let connections: [(SQLiteConnection, AsyncLock)]
    private let next = Atomic<Int>(0)

    init(_ connections: [SQLiteConnection]) {
        self.connections = connections.map { ($0, AsyncLock()) }
    }

    var count: Int { connections.count }

    func withReader<Result: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> Result) async throws -> Result {
        let (connection, lock) = connections[next.add(1, ordering: .relaxed).oldValue % connections.count]
        return try await lock.withLock { try await body(connection.sql(queryLogLevel: nil)) }
    }

    func close() async {
        for (connection, lock) in connections { _ = try? await lock.withLock { try await connection.close() } }
    }
}
