public import Foundation
import Synchronization

/// Callers waiting for a change of one thing (an approval request), woken when this process changes
/// it. A waiter also wakes after its timeout, so a change made elsewhere (another replica) is seen
/// on the caller's next read.
public final class ChangeWaiters: Sendable {
    private let waiting = Mutex<[UUID: [UInt64: AsyncStream<Void>.Continuation]]>([:])
    private let tokens = Atomic<UInt64>(0)

    public init() {}

    /// Returns when `id` is signalled, after `timeout`, or when the task is cancelled.
    public func wait(for id: UUID, upTo timeout: Duration) async {
        let token = tokens.add(1, ordering: .relaxed).newValue
        let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        waiting.withLock { $0[id, default: [:]][token] = continuation }
        let timer = Task {
            try? await Task.sleep(for: timeout)
            continuation.finish()
        }
        var iterator = stream.makeAsyncIterator()
        _ = await iterator.next()
        timer.cancel()
        waiting.withLock { all in
            all[id]?[token] = nil
            if all[id]?.isEmpty == true { all[id] = nil }
        }
    }

    /// Wakes everyone waiting on `id`.
    public func signal(_ id: UUID) {
        let continuations = waiting.withLock { $0[id].map { Array($0.values) } ?? [] }
        for continuation in continuations { continuation.yield() }
    }
}

/// A doorbell for one background worker: `ring` is cheap and never blocks; the worker's `wait`
/// returns at the first ring since its last wait, or after the timeout (which may leave one
/// spurious ring behind: harmless, the worker just looks once more).
public final class Doorbell: Sendable {
    private struct State {
        var rung = false
        var waiter: CheckedContinuation<Void, Never>?
    }
    private let state = Mutex(State())

    public init() {}

    public func ring() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.rung = true
            return nil
        }
        waiter?.resume()
    }

    /// Waits for a ring or the timeout. One worker only.
    public func wait(upTo timeout: Duration) async {
        let timer = Task { [self] in
            try? await Task.sleep(for: timeout)
            ring()
        }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state -> Bool in
                if state.rung {
                    state.rung = false
                    return true
                }
                state.waiter = continuation
                return false
            }
            if now { continuation.resume() }
        }
        timer.cancel()
    }
}
