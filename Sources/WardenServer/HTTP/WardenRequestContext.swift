public import Hummingbird
import WardenCore

/// The request context: Hummingbird's core storage plus the authenticated caller.
public struct WardenRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by ``AuthMiddleware`` on every `/v1` route.
    var principal: Principal?
    /// Set instead of `principal` when the bearer is an agent token.
    var agent: AgentIdentity?

    public init(source: Source) {
        self.coreContext = .init(source: source)
        self.principal = nil
        self.agent = nil
    }

    /// Bodies larger than this get `413 payload_too_large`.
    public var maxUploadSize: Int { 1 << 20 }

    /// The caller; `AuthMiddleware` guarantees it on authenticated routes.
    func caller() throws -> Principal {
        guard let principal else {
            if agent != nil { throw WardenError(.forbidden, "agent tokens may only ask for decisions and follow their tenant's events") }
            throw WardenError(.unauthenticated, "missing bearer token")
        }
        return principal
    }
}
