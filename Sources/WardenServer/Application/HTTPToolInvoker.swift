import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import WardenCore

/// Calls tools' registered endpoints for compensations and live replays: a JSON POST signed like
/// webhooks (`Warden-Signature` with the tenant's webhook secret), with `Idempotency-Key`, answered
/// within `timeout`. Errors name their kind only: an endpoint's URL may hold a token.
struct HTTPToolInvoker: ToolInvoker {
    let client: HTTPClient
    let secrets: WebhookSecrets
    let clock: any WallClock
    var timeout: Duration = .seconds(10)

    func invoke(tenantID: UUID, endpoint: String, idempotencyKey: String, body: JSONValue) async -> ToolInvocation {
        let bytes = body.canonicalBytes
        var request = HTTPClientRequest(url: endpoint)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "warden/\(WardenVersion.current)")
        request.headers.add(name: "Idempotency-Key", value: idempotencyKey)
        request.headers.add(
            name: "Warden-Signature",
            value: WebhookSignature.header(
                secret: secrets.secret(tenantID: tenantID), timestamp: Int64(clock.now().timeIntervalSince1970), body: bytes))
        request.body = .bytes(ByteBuffer(bytes: bytes))
        do {
            let response = try await client.execute(request, timeout: .init(timeout))
            let answer = try await response.body.collect(upTo: 1 << 20)
            let output = JSONValue.parse(String(buffer: answer)) ?? .null
            return ToolInvocation(status: Int(response.status.code), output: output)
        } catch {
            let kind = (error as? HTTPClientError).map { "\($0)" } ?? "\(type(of: error))"
            return ToolInvocation(status: nil, error: String(kind.replacingOccurrences(of: endpoint, with: "<endpoint>").prefix(200)))
        }
    }
}
