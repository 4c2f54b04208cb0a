import Foundation
import Hummingbird
import WardenCore

/// `/v1/provenance`: signed manifests (in-toto Statements in DSSE envelopes) for decisions and tool
/// calls, and their verification. Auditors and admins of the record's tenant; ids of other tenants
/// read as not found.
struct ProvenanceController {
    let provenance: ProvenanceService

    func addRoutes(to group: RouterGroup<WardenRequestContext>) {
        group.get("/provenance/{id}", use: manifest)
        group.get("/provenance/{id}/verify", use: verify)
        // The spelling the operations runbook uses (`curl /provenance/verify/<id>`).
        group.get("/provenance/verify/{id}", use: verify)
        group.post("/provenance/verify", use: verifyEnvelope)
    }

    /// The DSSE envelope, as issued the first time it was asked for.
    @Sendable func manifest(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let stored = try await provenance.manifest(by: try context.caller(), recordID: try Self.recordID(context))
        return JSONBody.response(status: .ok, stored.envelope.json)
    }

    /// `{valid, key_id, signed_at, reason, …}`: the manifest's signature, and the record, its ledger
    /// entry and the chain up to the covering checkpoint as they are now.
    @Sendable func verify(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let result = try await provenance.verify(by: try context.caller(), recordID: try Self.recordID(context))
        return JSONBody.response(status: .ok, Render.verification(result, checkedStore: true))
    }

    /// A manifest the caller holds (the envelope as the body): checked offline against the trusted
    /// keys, and against the store when its record is in a tenant the caller may read.
    @Sendable func verifyEnvelope(_ request: Request, context: WardenRequestContext) async throws -> Response {
        guard let document = try await JSONBody.document(from: request, context: context) else {
            throw WardenError(.missingField, "the body is the DSSE envelope GET /v1/provenance/{id} answered")
        }
        let (result, checked) = try await provenance.verify(by: try context.caller(), envelope: try ProvenanceEnvelope.parse(document))
        return JSONBody.response(status: .ok, Render.verification(result, checkedStore: checked))
    }

    static func recordID(_ context: WardenRequestContext) throws -> UUID {
        try context.id("id", .provenanceNotFound, "decision or tool call")
    }
}

extension Render {
    static func verification(_ result: Provenance.Verification, checkedStore: Bool) -> JSONValue {
        .object([
            "valid": .bool(result.valid), "key_id": .string(result.keyID), "signed_at": time(result.signedAt), "reason": .string(result.reason),
            "kind": result.subject.map { .string($0.rawValue) } ?? .null, "record_id": text(result.recordID),
            "tenant_id": result.tenantID.map(id) ?? .null, "ledger_sequence": result.sequence.map { .int($0) } ?? .null,
            "checkpoint_sequence": result.checkpointSequence.map { .int($0) } ?? .null, "checked_store": .bool(checkedStore),
        ])
    }
}
