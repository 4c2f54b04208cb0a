public import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// OPA itself (v1.20.2, the Go engine) through its C library `libopabridge.so`, installed into
/// `.peers/opa/` by `scripts/install-peers`. Loaded with `dlopen`, so nothing links against it and
/// everything that uses it skips when it is absent. One instance per policy set; not thread-safe.
public final class OPALibrary {
    public struct Failure: Error, CustomStringConvertible {
        public var code: String
        public var message: String
        public var description: String { "\(code): \(message)" }
    }

    typealias New = @convention(c) () -> UInt64
    typealias Destroy = @convention(c) (UInt64) -> Void
    typealias FreeString = @convention(c) (UnsafeMutableRawPointer?) -> Void
    typealias AddPolicy = @convention(c) (UInt64, UnsafePointer<CChar>, UnsafePointer<CChar>) -> UnsafeMutablePointer<CChar>?
    typealias Eval = @convention(c) (UInt64, UnsafePointer<CChar>, UnsafePointer<CChar>?, Int32, Int32) -> UnsafeMutablePointer<CChar>?

    nonisolated(unsafe) static var loaded: (new: New, destroy: Destroy, free: FreeString, addPolicy: AddPolicy, addData: AddPolicy, evalQuery: Eval)?
    static let lock = NSLock()

    /// Where the library is looked for: `WARDEN_OPA_LIBRARY`, else `.peers/opa/libopabridge.so` in the package.
    public static func defaultPath(packageRoot: URL) -> String {
        ProcessInfo.processInfo.environment["WARDEN_OPA_LIBRARY"] ?? packageRoot.appendingPathComponent(".peers/opa/libopabridge.so").path
    }

    /// Loads the library once; `false` when it is not there.
    public static func load(path: String) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if loaded != nil { return true }
        guard FileManager.default.fileExists(atPath: path), let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else { return false }
        func symbol<T>(_ name: String, _: T.Type) -> T? {
            guard let pointer = dlsym(handle, name) else { return nil }
            return unsafeBitCast(pointer, to: T.self)
        }
        guard let new = symbol("OpaNew", New.self), let destroy = symbol("OpaDestroy", Destroy.self),
            let free = symbol("OpaFreeString", FreeString.self), let addPolicy = symbol("OpaAddPolicy", AddPolicy.self),
            let addData = symbol("OpaAddData", AddPolicy.self), let evalQuery = symbol("OpaEvalQuery", Eval.self)
        else { return false }
        loaded = (new, destroy, free, addPolicy, addData, evalQuery)
        return true
    }

    let handle: UInt64
    let functions: (new: New, destroy: Destroy, free: FreeString, addPolicy: AddPolicy, addData: AddPolicy, evalQuery: Eval)

    /// A fresh OPA instance; `load(path:)` must have succeeded.
    public init() {
        functions = OPALibrary.loaded!
        handle = functions.new()
    }

    deinit { functions.destroy(handle) }

    public func addPolicy(path: String, source: String) throws {
        _ = try envelope(functions.addPolicy(handle, path, source))
    }

    /// Sets base data at the root (`dottedPath` empty) or below it.
    public func addData(dottedPath: String = "", json: String) throws {
        _ = try envelope(functions.addData(handle, dottedPath, json))
    }

    /// Evaluates `query` and returns OPA's whole answer envelope as JSON text:
    /// `{"result":[{"expressions":…,"bindings":…}]}` or `{"error":{"code":…,"message":…}}`. Callers
    /// parse it themselves (with exact numbers).
    public func evalQuery(_ query: String, inputJSON: String?) -> String {
        guard let pointer = functions.evalQuery(handle, query, inputJSON, 0, 0) else { return "" }
        defer { functions.free(pointer) }
        return String(cString: pointer)
    }

    func envelope(_ pointer: UnsafeMutablePointer<CChar>?) throws -> [String: Any] {
        guard let pointer else { throw Failure(code: "bridge", message: "no answer from libopabridge") }
        defer { functions.free(pointer) }
        let text = String(cString: pointer)
        guard let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            throw Failure(code: "bridge", message: "unreadable answer: \(text.prefix(200))")
        }
        if let error = object["error"] as? [String: Any] {
            throw Failure(code: error["code"] as? String ?? "unknown", message: error["message"] as? String ?? text)
        }
        return object
    }
}
