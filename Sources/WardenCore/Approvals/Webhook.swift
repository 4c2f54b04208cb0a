internal import Crypto
public import Foundation

/// Where one webhook delivery is: waiting to be sent (or retried), delivered, or given up on
/// (dead-lettered: kept, visible and retryable by an operator).
public enum WebhookDeliveryStatus: String, Sendable, Codable, CaseIterable {
    case pending, delivered, dead
}

/// One event for one receiver, kept in the database in the same transaction as the change it
/// announces, so nothing is lost: the delivery worker sends it (at least once), and its `id` is
/// the `Warden-Delivery` header receivers de-duplicate on.
public struct WebhookDelivery: Sendable, Equatable {
    public var id: UUID
    public var tenantID: UUID
    /// The approval request it is about, if any.
    public var approvalID: UUID?
    /// `approval.created`, `approval.escalated`, `policy.rollback`, …
    public var event: String
    /// The receiver; never shown back (it often carries a token), only its host.
    public var url: String
    /// The JSON body, exactly as it is signed and sent.
    public var body: String
    public var status: WebhookDeliveryStatus
    public var attempts: Int
    /// When the worker may next send it (also its lease while a send is under way).
    public var nextAttemptAt: Date
    public var lastStatus: Int?
    public var lastError: String?
    public var createdAt: Date
    public var deliveredAt: Date?

    public init(
        id: UUID, tenantID: UUID, approvalID: UUID?, event: String, url: String, body: String, status: WebhookDeliveryStatus = .pending,
        attempts: Int = 0, nextAttemptAt: Date, lastStatus: Int? = nil, lastError: String? = nil, createdAt: Date, deliveredAt: Date? = nil
    ) {
        self.id = id
        self.tenantID = tenantID
        self.approvalID = approvalID
        self.event = event
        self.url = url
        self.body = body
        self.status = status
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.lastStatus = lastStatus
        self.lastError = lastError
        self.createdAt = createdAt
        self.deliveredAt = deliveredAt
    }

    /// A delivery of `payload` (an object: `id`, `type`, `tenant` and `created_at` are added).
    public static func make(
        tenant: Tenant, approvalID: UUID?, event: String, url: String, payload: [String: JSONValue], now: Date
    ) -> WebhookDelivery {
        let id = UUID.v7(at: now)
        var body = payload
        body["id"] = .string(id.uuidString.lowercased())
        body["type"] = .string(event)
        body["tenant"] = .string(tenant.slug)
        body["created_at"] = .string(Timestamp.format(now))
        return WebhookDelivery(
            id: id, tenantID: tenant.id, approvalID: approvalID, event: event, url: url, body: JSONValue.object(body).canonicalText,
            nextAttemptAt: now, createdAt: now)
    }

    /// The receiver's scheme, host and port, for operators (the path and query may hold a token).
    public var host: String { Self.receiver(of: url) }

    /// A URL's scheme, host and port only.
    public static func receiver(of url: String) -> String {
        guard let components = URLComponents(string: url), let host = components.host else { return "invalid" }
        return "\(components.scheme ?? "http")://\(host)\(components.port.map { ":\($0)" } ?? "")"
    }
}

/// `Warden-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, keyed with the
/// tenant's webhook secret. Receivers recompute it and refuse old timestamps (replays).
public enum WebhookSignature {
    public static func header(secret: String, timestamp: Int64, body: [UInt8]) -> String {
        "t=\(timestamp),v1=\(hex(mac(secret: secret, timestamp: timestamp, body: body)))"
    }

    /// Whether `header` signs `body` with `secret`, within `tolerance` seconds of `now`.
    public static func verify(header: String, secret: String, body: [UInt8], now: Date, tolerance: TimeInterval = 300) -> Bool {
        var timestamp: Int64?
        var signatures: [String] = []
        for part in header.split(separator: ",") {
            let pair = part.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2 else { continue }
            if pair[0] == "t" { timestamp = Int64(pair[1]) } else if pair[0] == "v1" { signatures.append(pair[1]) }
        }
        guard let timestamp, abs(now.timeIntervalSince1970 - Double(timestamp)) <= tolerance else { return false }
        let expected = hex(mac(secret: secret, timestamp: timestamp, body: body))
        return signatures.contains { ConstantTime.equal($0, expected) }
    }

    static func mac(secret: String, timestamp: Int64, body: [UInt8]) -> [UInt8] {
        var message = Array("\(timestamp).".utf8)
        message += body
        return Array(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: Array(secret.utf8))))
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Each tenant's webhook signing secret, derived from one deployment key (kept in the database
/// like the token-signing key), so no per-tenant secret is stored and every replica signs alike.
public struct WebhookSecrets: Sendable {
    public static let keyPurpose = "webhook_signing"
    let master: [UInt8]

    public init(master: [UInt8]) {
        self.master = master
    }

    /// `whsec_` and 64 hex digits.
    public func secret(tenantID: UUID) -> String {
        let message = Array("warden-webhook-v1:\(tenantID.uuidString.lowercased())".utf8)
        return "whsec_" + WebhookSignature.hex(Array(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: master))))
    }

    /// A keyed hash of a value, so a redacted secret can still be compared for equality.
    public func fingerprint(tenantID: UUID, _ value: JSONValue) -> String {
        let key = SymmetricKey(data: Array(secret(tenantID: tenantID).utf8) + Array("redaction".utf8))
        let mac = HMAC<SHA256>.authenticationCode(for: value.canonicalBytes, using: key)
        return "hmac-sha256:" + WebhookSignature.hex(Array(mac).prefix(16).map { $0 })
    }
}

/// When to try a failed delivery again: exponential backoff with jitter, up to a limit of
/// attempts, after which the delivery is dead-lettered.
public struct WebhookRetryPolicy: Sendable, Equatable {
    public var maxAttempts: Int
    public var baseDelay: TimeInterval
    public var maxDelay: TimeInterval

    public init(maxAttempts: Int = 8, baseDelay: TimeInterval = 2, maxDelay: TimeInterval = 3600) {
        self.maxAttempts = maxAttempts
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    /// The pause after failed attempt number `attempt` (1 for the first): `base × 2^(attempt−1)`,
    /// capped, then scaled by a jitter factor from ½ to 1 (`jitter` in 0..<1), so receivers coming
    /// back are not hit by every sender at once. `nil` once the attempts are used up.
    public func delay(afterAttempt attempt: Int, jitter: Double) -> TimeInterval? {
        guard attempt < maxAttempts else { return nil }
        let exponential = min(maxDelay, baseDelay * pow(2, Double(min(attempt - 1, 40))))
        return exponential * (0.5 + min(max(jitter, 0), 1) / 2)
    }
}

/// The delivery queue, per database.
public protocol WebhookDeliveryRepository: Sendable {
    func insert(_ delivery: WebhookDelivery) async throws
    func update(_ delivery: WebhookDelivery) async throws
    /// Takes up to `limit` pending deliveries due by `now`, of tenants whose webhooks are not paused,
    /// oldest first, and moves their `nextAttemptAt` to `leaseUntil` so no other worker takes them
    /// meanwhile (on PostgreSQL, rows another transaction holds are skipped).
    func claimDue(now: Date, leaseUntil: Date, limit: Int) async throws -> [WebhookDelivery]
    func find(tenantID: UUID, id: UUID) async throws -> WebhookDelivery?
    /// Newest first.
    func list(tenantID: UUID, status: WebhookDeliveryStatus?, _ page: PageRequest) async throws -> Page<WebhookDelivery>
    /// Per status, of one tenant.
    func counts(tenantID: UUID) async throws -> [WebhookDeliveryStatus: Int]
}
