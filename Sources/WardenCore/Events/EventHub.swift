public import Foundation
import Synchronization

/// Delivers tenant events to the streams following them in this process.
///
/// A subscriber that falls too far behind is disconnected rather than silently skipped; it resumes
/// from its last event id and reads the missed events from the database.
public final class EventHub: Sendable {
    public struct Subscription: Sendable {
        public let id: Int
        public let tenantID: UUID
        public let events: AsyncStream<TenantEvent>
    }

    private struct State {
        var nextID = 0
        var subscribers: [UUID: [Int: AsyncStream<TenantEvent>.Continuation]] = [:]
        var closed = false
    }

    private let state = Mutex(State())
    private let bufferSize: Int

    public init(bufferSize: Int = 1_000) {
        self.bufferSize = bufferSize
    }

    /// Starts following a tenant. `nil` once the hub has shut down.
    public func subscribe(tenantID: UUID) -> Subscription? {
        let (stream, continuation) = AsyncStream.makeStream(of: TenantEvent.self, bufferingPolicy: .bufferingOldest(bufferSize))
        let id: Int? = state.withLock { state in
            guard !state.closed else { return nil }
            state.nextID += 1
            state.subscribers[tenantID, default: [:]][state.nextID] = continuation
            return state.nextID
        }
        guard let id else {
            continuation.finish()
            return nil
        }
        continuation.onTermination = { [weak self] _ in self?.remove(id: id, tenantID: tenantID) }
        return Subscription(id: id, tenantID: tenantID, events: stream)
    }

    public func publish(_ event: TenantEvent) {
        let continuations = state.withLock { Array(($0.subscribers[event.tenantID] ?? [:]).values) }
        for continuation in continuations {
            if case .dropped = continuation.yield(event) {
                continuation.finish()
            }
        }
    }

    /// Ends every stream, so open connections close at shutdown.
    public func close() {
        let all = state.withLock { state -> [AsyncStream<TenantEvent>.Continuation] in
            state.closed = true
            defer { state.subscribers = [:] }
            return state.subscribers.values.flatMap(\.values)
        }
        for continuation in all { continuation.finish() }
    }

    public var subscriberCount: Int {
        state.withLock { $0.subscribers.values.reduce(0) { $0 + $1.count } }
    }

    private func remove(id: Int, tenantID: UUID) {
        state.withLock { state in
            state.subscribers[tenantID]?[id] = nil
            if state.subscribers[tenantID]?.isEmpty == true { state.subscribers[tenantID] = nil }
        }
    }
}
