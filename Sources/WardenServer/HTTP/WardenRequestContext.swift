import Foundation
public import Hummingbird
import WardenCore

/// The request context: Hummingbird's core storage plus the authenticated caller.
public struct WardenRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by ``AuthMiddleware`` on every `/v1` route.
    var principal: Principal?
    /// Set instead of `principal` when the bearer is an agent token.
    var agent: AgentIdentity?
    /// The request's trace id: its server span's when tracing is on, else its W3C `traceparent`'s.
    /// Set by ``RequestTraceMiddleware``; decisions store it on their record.
    var traceID: String?

    public init(source: Source) {
        self.coreContext = .init(source: source)
        self.principal = nil
        self.agent = nil
        self.traceID = nil
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

    /// The path parameter `name` as an id; a malformed one reads as not found, like an unknown one.
    func id(_ name: String, _ notFound: WardenError.Code, _ noun: String) throws -> UUID {
        try Self.id(try parameters.require(name), notFound, noun)
    }

    /// `text` as an id, or `notFound` ("<noun> '<text>' not found").
    static func id(_ text: String, _ notFound: WardenError.Code, _ noun: String) throws -> UUID {
        guard let id = UUID(uuidString: text) else { throw WardenError(notFound, "\(noun) '\(text)' not found") }
        return id
    }
}
