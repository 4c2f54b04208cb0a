import Foundation
import Hummingbird
import Logging
import WardenCore

/// Requires `Authorization: Bearer <key>` and resolves it to a principal.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = WardenRequestContext

    let identity: IdentityService

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization] else {
            throw WardenError(.unauthenticated, "missing bearer token: send 'Authorization: Bearer <key>'")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer", !parts[1].isEmpty else {
            throw WardenError(.unauthenticated, "authorization header must be 'Bearer <key>'")
        }
        var context = context
        let principal = try await identity.authenticate(secret: String(parts[1]).trimmingCharacters(in: .whitespaces))
        context.principal = principal
        context.logger[metadataKey: "auth.key_id"] = "\(principal.keyID.uuidString.lowercased())"
        return try await next(request, context)
    }
}
