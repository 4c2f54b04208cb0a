import Foundation
import Synchronization

/// Evaluation recurses (continuation-passing style), and the threads of Swift concurrency have small
/// stacks. Each evaluation runs on a thread with a large stack, and the evaluator bounds its own
/// nesting depth (`Limits.maxEvaluationDepth`, at most `Evaluator.depthCeiling`), so deep policies end in an error, never a crash.
enum LargeStack {
    static let size = 256 << 20

    static func run<Result: Sendable>(_ body: @escaping @Sendable () throws(RegoError) -> Result) throws(RegoError) -> Result {
        let outcome = Mutex<Swift.Result<Result, RegoError>?>(nil)
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            let result: Swift.Result<Result, RegoError>
            do throws(RegoError) {
                result = .success(try body())
            } catch {
                result = .failure(error)
            }
            outcome.withLock { $0 = result }
            done.signal()
        }
        thread.stackSize = size
        thread.start()
        done.wait()
        guard let result = outcome.withLock({ $0 }) else { throw RegoError(.compileError, "evaluation thread ended without a result") }
        return try result.get()
    }
}
