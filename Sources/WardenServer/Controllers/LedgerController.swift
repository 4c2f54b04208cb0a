import Foundation
import Hummingbird
import WardenCore

/// `/v1/tenants/{tenant}/ledger`: the tenant's hash chain (admins and auditors).
struct LedgerController {
    let scope: TenantScope
    let ledger: LedgerService

    func addRoutes(to group: RouterGroup<WardenRequestContext>) {
        group.get("/tenants/{tenant}/ledger", use: list)
        group.get("/tenants/{tenant}/ledger/verify", use: verify)
    }

    /// Entries after `after` (a sequence number, default 0), in order; `next_after` continues.
    @Sendable func list(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let after =
            try request.query("after").map { text throws -> Int64 in
                guard let value = Int64(text), value >= 0 else { throw WardenError(.invalidField, "after must be a sequence number (0 or more)") }
                return value
            } ?? 0
        let limit = try PageRequest(limit: request.query("limit"), cursor: nil).limit
        let (tenant, principal) = try await scope.tenant(context, .readAudit)
        let entries = try await ledger.entries(by: principal, tenant: tenant, after: after, limit: limit)
        return JSONBody.response(
            status: .ok,
            JSONValue.object([
                "items": .array(entries.map(Render.ledgerEntry)),
                "next_after": entries.count == limit ? entries.last.map { .int($0.sequence) } ?? .null : .null,
            ]))
    }

    /// Recomputes the whole chain: `{valid, entries, head, head_hash, broken: {sequence, record_id, reason}}`.
    @Sendable func verify(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let (tenant, principal) = try await scope.tenant(context, .readAudit)
        let result = try await ledger.verify(by: principal, tenant: tenant)
        return JSONBody.response(status: .ok, Render.verification(result))
    }
}

extension Render {
    static func ledgerEntry(_ entry: LedgerEntry) -> JSONValue {
        .object([
            "sequence": .int(entry.sequence), "kind": .string(entry.kind.rawValue), "record_id": .string(entry.recordID), "at": time(entry.at),
            "body": JSONValue.parse(entry.body) ?? .string(entry.body), "body_text": .string(entry.body),
            "previous_hash": .string(entry.previousHash),
            "hash": .string(entry.hash),
        ])
    }

    static func verification(_ result: LedgerService.Verification) -> JSONValue {
        .object([
            "valid": .bool(result.valid), "entries": .int(Int64(result.entries)), "head": .int(result.head), "head_hash": .string(result.headHash),
            "broken": result.broken.map { broken in
                .object([
                    "sequence": .int(broken.sequence), "record_id": broken.recordID.map(JSONValue.string) ?? .null, "reason": .string(broken.reason),
                ])
            } ?? .null,
        ])
    }
}
