import Foundation
import Hummingbird
import Logging
import WardenCore

/// Requires `Authorization: Bearer <credential>`: an API key (`wdn_…`) or an agent token (a JWT).
struct AuthMiddleware: RouterMiddleware {
    typealias Context = WardenRequestContext

    let identity: IdentityService
    let agents: AgentService

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization] else {
            throw WardenError(.unauthenticated, "missing bearer token: send 'Authorization: Bearer <key>'")
        }
        guard let credential = Self.bearerCredential(header) else {
            throw WardenError(.unauthenticated, "authorization header must be 'Bearer <key>'")
        }
        var context = context
        if AgentTokenAuthority.looksLikeToken(credential) {
            let agent = try await agents.authenticate(token: credential)
            context.agent = agent
            context.logger[metadataKey: "auth.token_id"] = "\(agent.tokenID.uuidString.lowercased())"
        } else {
            let principal = try await identity.authenticate(secret: credential)
            context.principal = principal
            context.logger[metadataKey: "auth.key_id"] = "\(principal.keyID.uuidString.lowercased())"
        }
        return try await next(request, context)
    }

    /// The credential of `Bearer <credential>` (scheme in any case, spaces and tabs around the
    /// credential ignored); `nil` when the header has another shape. Byte-wise: it runs on every request.
    static func bearerCredential(_ header: String) -> String? {
        let bytes = header.utf8
        guard let space = bytes.firstIndex(of: UInt8(ascii: " ")) else { return nil }
        let scheme = bytes[..<space]
        guard scheme.count == 6, zip(scheme, "bearer".utf8).allSatisfy({ $0 | 0x20 == $1 }) else { return nil }
        let isBlank = { (byte: UInt8) in byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        var rest = bytes[bytes.index(after: space)...]
        while let first = rest.first, isBlank(first) { rest = rest.dropFirst() }
        while let last = rest.last, isBlank(last) { rest = rest.dropLast() }
        guard !rest.isEmpty else { return nil }
        return String(Substring(rest))
    }
}
