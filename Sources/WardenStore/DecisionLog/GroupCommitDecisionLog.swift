import Foundation
public import Logging
import Metrics
import Synchronization
public import WardenCore

/// The durable decision log: callers wait until their record is committed; records that arrive
/// while a transaction is in flight are committed together in the next one (group commit), so a
/// busy server pays for one commit (one fsync) per batch rather than per decision.
///
/// If a batch cannot be written after a few quick retries, its callers get
/// `decision_log_unavailable` and no answer: a decision is never answered without its record.
public final class GroupCommitDecisionLog: DecisionLog, Sendable {
    private struct Pending {
        var record: DecisionRecord
        /// Built by the caller, off the writer's path.
        var ledger: LedgerItem
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var queue: [Pending] = []
        var writerWaiting: CheckedContinuation<Void, Never>?
        var closed = false
    }

    private let store: any Store
    private let logger: Logger
    private let maxBatch: Int
    private let retryDelays: [Duration]
    private let state = Mutex(State())
    private let backlog = Gauge(label: "warden_decision_log_backlog")
    private let batchSizes = Recorder(label: "warden_decision_log_batch_size")
    private let commitTime = Metrics.Timer(label: "warden_decision_log_commit_seconds", preferredDisplayUnit: .seconds)
    private let failures = Counter(label: "warden_decision_log_failures_total")

    public init(
        store: any Store, logger: Logger, maxBatch: Int = 1_000,
        retryDelays: [Duration] = [.milliseconds(20), .milliseconds(100), .milliseconds(400)]
    ) {
        self.store = store
        self.logger = logger
        self.maxBatch = maxBatch
        self.retryDelays = retryDelays
    }

    public func append(_ record: DecisionRecord) async throws {
        let ledger = LedgerItem.decision(record)
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let outcome = state.withLock { state -> (accepted: Bool, wake: CheckedContinuation<Void, Never>?) in
                guard !state.closed else { return (false, nil) }
                state.queue.append(Pending(record: record, ledger: ledger, continuation: continuation))
                defer { state.writerWaiting = nil }
                return (true, state.writerWaiting)
            }
            guard outcome.accepted else {
                continuation.resume(throwing: WardenError(.decisionLogUnavailable, "the decision log is shut down; try another replica"))
                return
            }
            outcome.wake?.resume()
        }
    }

    /// Writes batches until `close()` is called and the queue is drained.
    public func run() async {
        while true {
            let batch = await nextBatch()
            if batch.isEmpty { return }
            await write(batch)
        }
    }

    /// Stops accepting records; `run` returns once everything accepted is written.
    public func close() {
        let wake = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.closed = true
            defer { state.writerWaiting = nil }
            return state.writerWaiting
        }
        wake?.resume()
    }

    /// Records waiting to be written.
    public var pendingCount: Int { state.withLock { $0.queue.count } }

    /// Waits for work; an empty result means closed and drained.
    private func nextBatch() async -> [Pending] {
        while true {
            let batch = state.withLock { state -> [Pending]? in
                if !state.queue.isEmpty {
                    let count = min(state.queue.count, maxBatch)
                    let batch = Array(state.queue.prefix(count))
                    state.queue.removeFirst(count)
                    return batch
                }
                return state.closed ? [] : nil
            }
            if let batch { return batch }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if !state.queue.isEmpty || state.closed { return true }
                    state.writerWaiting = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        }
    }

    private func write(_ batch: [Pending]) async {
        let records = batch.map(\.record)
        let ledger = batch.map(\.ledger)
        var lastError: (any Error)?
        for attempt in 0...retryDelays.count {
            if attempt > 0 {
                try? await Task.sleep(for: retryDelays[attempt - 1])
            }
            let start = ContinuousClock.now
            do {
                try await store.write { repos in try await repos.decisions.insert(records, ledger: ledger) }
                let elapsed = ContinuousClock.now - start
                commitTime.recordNanoseconds(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
                batchSizes.record(batch.count)
                backlog.record(pendingCount)
                for pending in batch { pending.continuation.resume() }
                return
            } catch {
                lastError = error
                logger.warning(
                    "decision_log.write_failed",
                    metadata: ["batch.size": "\(batch.count)", "attempt": "\(attempt + 1)", "error": "\(StoreError.describe(error))"]
                )
            }
        }
        failures.increment(by: batch.count)
        logger.error(
            "decision_log.batch_rejected", metadata: ["batch.size": "\(batch.count)", "error": "\(lastError.map(StoreError.describe) ?? "unknown")"])
        let error = WardenError(.decisionLogUnavailable, "the decision could not be recorded, so it is not answered; retry")
        for pending in batch { pending.continuation.resume(throwing: error) }
    }
}
