import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Evaluation recurses (continuation-passing style). It runs on the caller's thread while that
/// thread's stack has room, which is every ordinary policy; the evaluator watches the stack, and a
/// policy that nests deeper than the caller's stack allows is evaluated again, from the start, on a
/// thread with a 256 MiB stack (evaluation has no side effects, so the second run gives the answer
/// the first would have). The evaluator also bounds its own nesting (`Limits.maxEvaluationDepth`,
/// at most `Evaluator.depthCeiling`), so deep policies end in an error, never a crash.
enum LargeStack {
    static let size = 256 << 20
    /// Room kept free below the evaluator for builtins (regular expressions, JSON) and the runtime.
    static let reserve = 256 << 10

    /// Thrown by the evaluator when the stack is nearly used up.
    struct Exhausted: Error {}

    static func run<Result: Sendable>(_ body: @escaping @Sendable () throws(RegoError) -> Result) throws(RegoError) -> Result {
        do {
            return try body()
        } catch  where error.code == .stackExhausted {
            return try runOnLargeStack(body)
        }
    }

    static func runOnLargeStack<Result: Sendable>(_ body: @escaping @Sendable () throws(RegoError) -> Result) throws(RegoError) -> Result {
        let outcome = Mutex<Swift.Result<Result, RegoError>?>(nil)
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            let result: Swift.Result<Result, RegoError>
            do throws(RegoError) {
                result = .success(try body())
            } catch  where error.code == .stackExhausted {
                result = .failure(RegoError(.limitExceeded, "evaluation nested too deeply for a \(size >> 20) MiB stack"))
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

    /// The lowest stack address the evaluator may reach on this thread (its stack's low end plus
    /// `reserve`), found once per thread and kept in thread-specific storage.
    static func limit() -> UInt {
        if let cached = pthread_getspecific(key) { return UInt(bitPattern: cached) }
        var low: UInt = 0
        #if canImport(Glibc)
            low = linuxStackLow()
        #elseif canImport(Darwin)
            let high = UInt(bitPattern: pthread_get_stackaddr_np(pthread_self()))
            low = high - UInt(pthread_get_stacksize_np(pthread_self()))
        #endif
        // Unknown bounds: assume the smallest stack Swift concurrency gives a thread (512 KiB) below here.
        if low == 0 { low = currentAddress() - (512 << 10) }
        let value = low + UInt(reserve)
        pthread_setspecific(key, UnsafeRawPointer(bitPattern: value))
        return value
    }

    #if canImport(Glibc)
        typealias GetAttr = @convention(c) (pthread_t, UnsafeMutableRawPointer) -> Int32
        typealias GetStack = @convention(c) (UnsafeRawPointer, UnsafeMutablePointer<UnsafeMutableRawPointer?>, UnsafeMutablePointer<Int>) -> Int32
        typealias Destroy = @convention(c) (UnsafeMutableRawPointer) -> Int32

        /// The calling thread's stack low end, from glibc's pthread_getattr_np (a GNU extension the
        /// Glibc module does not export, so it is looked up by name); 0 when unavailable.
        static func linuxStackLow() -> UInt {
            guard let handle = dlopen(nil, RTLD_NOW), let getAttr = dlsym(handle, "pthread_getattr_np"),
                let getStack = dlsym(handle, "pthread_attr_getstack"), let destroy = dlsym(handle, "pthread_attr_destroy")
            else { return 0 }
            // pthread_attr_t is 56 bytes on 64-bit glibc; leave room.
            let attributes = UnsafeMutableRawPointer.allocate(byteCount: 128, alignment: 16)
            defer { attributes.deallocate() }
            guard unsafeBitCast(getAttr, to: GetAttr.self)(pthread_self(), attributes) == 0 else { return 0 }
            defer { _ = unsafeBitCast(destroy, to: Destroy.self)(attributes) }
            var base: UnsafeMutableRawPointer?
            var size = 0
            guard unsafeBitCast(getStack, to: GetStack.self)(attributes, &base, &size) == 0, let base else { return 0 }
            return UInt(bitPattern: base)
        }
    #endif

    static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    @inline(__always) static func currentAddress() -> UInt {
        var marker: UInt8 = 0
        return withUnsafeMutablePointer(to: &marker) { UInt(bitPattern: $0) }
    }
}
