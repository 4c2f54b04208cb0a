import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Rego
import WardenCore

/// Asks an OPA server's data API for bundles that delegate to one: `POST {url}/v1/data/{path}` with
/// `{"input": …}`, within the bundle's timeout. Anything but a 200 with a JSON object (or a timeout, or
/// a refused connection) is `unavailable`, and the decision denies.
struct OPAClient: ExternalPolicyClient {
    let client: HTTPClient
    let logger: Logger

    func evaluate(_ opa: ExternalOPA, input: Value) async -> PolicyVerdict {
        do {
            var request = HTTPClientRequest(url: opa.endpoint)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: #"{"input":"# + input.jsonText + "}"))
            let response = try await client.execute(request, timeout: .milliseconds(Int64(opa.timeoutMilliseconds)))
            let body = try await response.body.collect(upTo: 4 << 20)
            guard response.status == .ok else {
                return unavailable(opa, "OPA answered \(response.status.code)")
            }
            guard case .object(let fields) = try Value.parseJSON(String(buffer: body)) else {
                return unavailable(opa, "OPA's answer is not a JSON object")
            }
            // OPA leaves `result` out when the document is undefined.
            guard let result = fields[.string("result")] else { return .noMatch }
            return PolicyVerdict(result: result)
        } catch {
            return unavailable(opa, "\(error)")
        }
    }

    private func unavailable(_ opa: ExternalOPA, _ why: String) -> PolicyVerdict {
        logger.warning("policy.opa_unavailable", metadata: ["opa.endpoint": "\(opa.endpoint)", "error": "\(why)"])
        return .unavailable(why)
    }
}
