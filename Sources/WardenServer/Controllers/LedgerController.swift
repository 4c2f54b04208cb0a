import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import WardenCore

/// `/v1/tenants/{tenant}/ledger`: the tenant's hash chain (admins and auditors).
struct LedgerController {
    let scope: TenantScope
    let ledger: LedgerService
    let store: any Store

    func addRoutes(to group: RouterGroup<WardenRequestContext>) {
        group.get("/tenants/{tenant}/ledger", use: list)
        group.get("/tenants/{tenant}/ledger/verify", use: verify)
        group.get("/tenants/{tenant}/ledger/checkpoints", use: checkpoints)
        group.post("/tenants/{tenant}/ledger/checkpoint", use: checkpointNow)
        group.get("/keys", use: keys)
        group.post("/keys/rotate", use: rotate)
        group.get("/tenants/{tenant}/ledger/export", use: export)
    }

    /// `?from=&to=&redaction=none|standard|strict`: the tenant's entries in the time range as JSON
    /// lines, streamed 1,000 at a time, ending with a manifest line (counts, chain range, signed
    /// checkpoints in range, SHA-256 of everything before it). Admins and auditors; audited.
    @Sendable func export(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let from = try request.queryTime("from")
        let to = try request.queryTime("to")
        if let from, let to, from >= to { throw WardenError(.invalidField, "from must be before to") }
        let level = try request.queryEnum("redaction", as: RedactionLevel.self) ?? .standard
        let (tenant, principal) = try await scope.tenant(context, .readAudit)
        try await ledger.recordExport(by: principal, tenant: tenant, from: from, to: to, level: level)
        let ledger = self.ledger
        let body = ResponseBody { writer in
            var digest = LedgerExport.Digest()
            var after: Int64 = 0
            while true {
                let entries = try await ledger.entries(by: principal, tenant: tenant, after: after, from: from, to: to, limit: 1000)
                guard let last = entries.last else { break }
                var chunk: [UInt8] = []
                for entry in entries {
                    let (line, redacted) = LedgerExport.line(entry, level: level)
                    digest.add(line, entry: entry, redacted: redacted)
                    chunk += line
                    chunk.append(0x0a)
                }
                try await writer.write(ByteBuffer(bytes: chunk))
                after = last.sequence
                if entries.count < 1000 { break }
            }
            var manifest = LedgerExport.manifest(
                tenant: tenant, from: from, to: to, level: level, digest: digest,
                checkpoints: try await ledger.checkpoints(by: principal, tenant: tenant), exportedAt: Date())
            manifest.append(0x0a)
            try await writer.write(ByteBuffer(bytes: manifest))
            try await writer.finish(nil)
        }
        var headers = HTTPFields()
        headers[.contentType] = "application/x-ndjson; charset=utf-8"
        headers[.contentDisposition] = "attachment; filename=\"ledger-\(tenant.slug).jsonl\""
        return Response(status: .ok, headers: headers, body: body)
    }

    /// The tenant's signed checkpoints, oldest first.
    @Sendable func checkpoints(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let (tenant, principal) = try await scope.tenant(context, .readAudit)
        let checkpoints = try await ledger.checkpoints(by: principal, tenant: tenant)
        return JSONBody.response(status: .ok, JSONValue.object(["items": .array(checkpoints.map(Render.checkpoint))]))
    }

    /// Signs the tenant's head now (admin); audited. 200 with the checkpoint (the last one if the
    /// head is already signed), 204 when the chain is empty.
    @Sendable func checkpointNow(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let (tenant, principal) = try await scope.tenant(context, .readAudit)
        guard let checkpoint = try await ledger.checkpoint(by: principal, tenant: tenant) else { return Response(status: .noContent) }
        return JSONBody.response(status: .ok, Render.checkpoint(checkpoint))
    }

    /// The public keys Warden signs with (Ed25519, base64 of the raw key), for anyone holding a key
    /// or token: auditors pin them to check checkpoints, agent tokens and bundle exports offline.
    @Sendable func keys(_ request: Request, context: WardenRequestContext) async throws -> Response {
        guard context.agent != nil || context.principal != nil else { throw WardenError(.unauthenticated, "authentication required") }
        var items: [JSONValue] = []
        let stored = try await store.read { try await $0.signingKeys.all() }
        var seen = Set<String>()
        for (keyID, publicKey) in ledger.publicKeys.sorted(by: { $0.key < $1.key }) {
            seen.insert(keyID)
            items.append(Render.publicKey(id: keyID, purpose: LedgerSigner.keyPurpose, publicKey: publicKey, createdAt: nil))
        }
        for key in stored where !seen.contains(key.id) && key.purpose != WebhookSecrets.keyPurpose {
            // The webhook master secret is a secret, not a key pair: never listed. The current ledger
            // key is listed above, retired ones below; a stored ledger key that configuration
            // replaced is listed here, since what it signed still verifies with it.
            guard let publicKey = LedgerSigner.publicKey(ofPrivate: key.key) else { continue }
            items.append(Render.publicKey(id: key.id, purpose: key.purpose, publicKey: publicKey, createdAt: key.createdAt))
        }
        for key in try await store.read({ try await $0.signingKeys.retired() }) {
            items.append(
                Render.publicKey(id: key.id, purpose: key.purpose, publicKey: key.publicKey, createdAt: key.createdAt, retiredAt: key.retiredAt))
        }
        return JSONBody.response(status: .ok, JSONValue.object(["items": .array(items)]))
    }

    /// `{purpose: "ledger_checkpoint", reason}` (global admin): a new checkpoint signing key from now
    /// on; the old one is listed as retired and still checks what it signed. Audited.
    @Sendable func rotate(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let fields = try JSONFields(try await JSONBody.document(from: request, context: context))
        let purpose = try fields.string("purpose")
        let reason = try fields.string("reason")
        guard purpose == LedgerSigner.keyPurpose else {
            throw WardenError(.invalidField, "purpose must be \(LedgerSigner.keyPurpose) (the only key that rotates so far)")
        }
        let (retired, current) = try await ledger.rotate(by: try context.caller(), reason: reason)
        context.logger.notice("signing_key.rotated", metadata: ["purpose": "\(purpose)", "retired": "\(retired)", "current": "\(current)"])
        return JSONBody.response(
            status: .ok, JSONValue.object(["purpose": .string(purpose), "retired_key_id": .string(retired), "key_id": .string(current)]))
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
    /// `?records=true` also compares each entry of an immutable record with the record's row.
    @Sendable func verify(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let records: Bool
        switch request.query("records") {
        case nil, "false": records = false
        case "true": records = true
        case let other?: throw WardenError(.invalidField, "records must be true or false (got '\(other)')")
        }
        let (tenant, principal) = try await scope.tenant(context, .readAudit)
        let result = try await ledger.verify(by: principal, tenant: tenant, records: records)
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

    static func checkpoint(_ checkpoint: LedgerCheckpoint) -> JSONValue {
        .object([
            "sequence": .int(checkpoint.sequence), "hash": .string(checkpoint.hash), "key_id": .string(checkpoint.keyID),
            "algorithm": .string("Ed25519"), "signature": .string(Data(checkpoint.signature).base64EncodedString()),
            "signed_at": time(checkpoint.signedAt),
            "signed_text": .string(
                String(
                    decoding: LedgerCheckpoint.message(
                        tenantID: checkpoint.tenantID, sequence: checkpoint.sequence, hash: checkpoint.hash, signedAt: checkpoint.signedAt),
                    as: UTF8.self)),
        ])
    }

    static func publicKey(id: String, purpose: String, publicKey: [UInt8], createdAt: Date?, retiredAt: Date? = nil) -> JSONValue {
        .object([
            "key_id": .string(id), "purpose": .string(purpose), "algorithm": .string("Ed25519"),
            "public_key": .string(Data(publicKey).base64EncodedString()), "created_at": time(createdAt),
            "status": .string(retiredAt == nil ? "current" : "retired"), "retired_at": time(retiredAt),
        ])
    }

    static func verification(_ result: LedgerService.Verification) -> JSONValue {
        .object([
            "valid": .bool(result.valid), "entries": .int(Int64(result.entries)), "head": .int(result.head), "head_hash": .string(result.headHash),
            "checkpoints": .int(Int64(result.checkpoints)), "last_checkpoint": result.lastCheckpoint.map { .int($0) } ?? .null,
            "records_compared": .int(Int64(result.recordsCompared)),
            "broken": result.broken.map { broken in
                .object([
                    "sequence": .int(broken.sequence), "record_id": broken.recordID.map(JSONValue.string) ?? .null, "reason": .string(broken.reason),
                ])
            } ?? .null,
        ])
    }
}
