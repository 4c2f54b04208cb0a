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
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer", !parts[1].isEmpty else {
            throw WardenError(.unauthenticated, "authorization header must be 'Bearer <key>'")
        }
        var context = context
        let credential = String(parts[1]).trimmingCharacters(in: .whitespaces)
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
}
