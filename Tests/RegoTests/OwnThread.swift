import Foundation
import Testing

/// Runs CPU-heavy test work on a thread of its own and returns what it found wrong. Swift Testing runs
/// suites in parallel on the cooperative pool, which has one thread per core (two here): a long
/// synchronous loop there starves the suites that measure timeouts (a 200 ms probe answered after
/// 10 s). The work reports problems as text; the caller records them as issues on its test.
func onOwnThread(_ work: @escaping @Sendable () throws -> [String]) async throws {
    let outcome: Result<[String], any Error> = await withCheckedContinuation { continuation in
        let thread = Thread {
            continuation.resume(returning: Result { try work() })
        }
        thread.stackSize = 16 << 20
        thread.start()
    }
    for problem in try outcome.get() { Issue.record(Comment(rawValue: problem)) }
}
