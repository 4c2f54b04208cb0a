public import Hummingbird
import WardenCore

/// The request context: Hummingbird's core storage plus the authenticated caller.
public struct WardenRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by ``AuthMiddleware`` on every `/v1` route.
    var principal: Principal?

    public init(source: Source) {
        self.coreContext = .init(source: source)
        self.principal = nil
    }

    /// Bodies larger than this get `413 payload_too_large`.
    public var maxUploadSize: Int { 1 << 20 }

    /// The caller; `AuthMiddleware` guarantees it on authenticated routes.
    func caller() throws -> Principal {
        guard let principal else { throw WardenError(.unauthenticated, "missing bearer token") }
        return principal
    }
}
