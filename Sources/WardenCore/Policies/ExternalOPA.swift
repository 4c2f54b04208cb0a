public import Foundation
public import Rego

/// A bundle that delegates its decisions to an OPA server: Warden posts the input document to OPA's
/// data API (`POST {url}/v1/data/{path}`) and maps `result` as it maps a local entry point. A
/// timeout or any failure denies with `policy_unavailable` (fail closed).
public struct ExternalOPA: Sendable, Equatable, Codable {
    public var url: String
    /// The document's path under `data`, with slashes (`warden/decision`).
    public var path: String
    public var timeoutMilliseconds: Int

    enum CodingKeys: String, CodingKey {
        case url, path
        case timeoutMilliseconds = "timeout_ms"
    }

    public static let defaultTimeout = 500

    public init(url: String, path: String, timeoutMilliseconds: Int = ExternalOPA.defaultTimeout) {
        self.url = url
        self.path = path
        self.timeoutMilliseconds = timeoutMilliseconds
    }

    /// Checks and normalizes: an http(s) URL without a query, a path of names (dots or slashes), a
    /// timeout of 1 ms to 30 s.
    public static func validated(url: String, path: String, timeoutMilliseconds: Int?) throws(WardenError) -> ExternalOPA {
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(), scheme == "http" || scheme == "https",
            parsed.host?.isEmpty == false, parsed.query == nil, parsed.fragment == nil, url.utf8.count <= 500
        else { throw WardenError(.invalidField, "opa.url must be an http(s) URL of an OPA server, such as http://opa:8181 (got '\(url)')") }
        var names = path
        if names.hasPrefix("data.") { names.removeFirst(5) }
        let segments = names.split(whereSeparator: { $0 == "/" || $0 == "." }).map(String.init)
        guard !segments.isEmpty,
            segments.allSatisfy({ segment in
                segment.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }
            })
        else { throw WardenError(.invalidField, "opa.path must name a document, such as warden/decision (got '\(path)')") }
        let timeout = timeoutMilliseconds ?? defaultTimeout
        guard (1...30_000).contains(timeout) else { throw WardenError(.invalidField, "opa.timeout_ms must be between 1 and 30000") }
        var base = url
        while base.hasSuffix("/") { base.removeLast() }
        return ExternalOPA(url: base, path: segments.joined(separator: "/"), timeoutMilliseconds: timeout)
    }

    /// Where the data API answers for this document.
    public var endpoint: String { "\(url)/v1/data/\(path)" }
}

/// Asks an external OPA server. Implemented at the HTTP edge (WardenServer); the domain only needs
/// the answer.
public protocol ExternalPolicyClient: Sendable {
    /// OPA's `result` mapped as a local entry point's value; `.unavailable` on a timeout or failure.
    func evaluate(_ opa: ExternalOPA, input: Value) async -> PolicyVerdict
}

extension TenantSnapshot {
    /// For a bundle that delegates to OPA, OPA's verdict on the request: asked only when the request
    /// gets past the checks before the policy; `nil` for local bundles (and when no policy is asked).
    func externalVerdict(_ request: DecisionRequest, agent: Agent, now: Date, client: (any ExternalPolicyClient)?) async -> PolicyVerdict? {
        guard let opa = deciding(for: agent.agentID).bundle?.external, let entry = DecisionEngine.reachesPolicy(request, in: self) else { return nil }
        let input = DecisionEngine.input(request, agent: agent, entry: entry, snapshot: self, now: now)
        return await client?.evaluate(opa, input: input) ?? .unavailable("no client for external OPA servers")
    }
}
