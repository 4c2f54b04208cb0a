import Foundation
import SQLKit
import WardenCore

struct SQLProvenanceRepository: ProvenanceRepository {
    let db: any SQLDatabase

    func owner(recordID: UUID) async throws -> (tenantID: UUID, subject: Provenance.Subject)? {
        let id = recordID.uuidString.lowercased()
        if let row = try await db.raw("SELECT tenant_id FROM decisions WHERE id = \(bind: id)").first() {
            return (try row.decodeUUID("tenant_id"), .decision)
        }
        if let row = try await db.raw("SELECT tenant_id FROM run_steps WHERE id = \(bind: id) AND kind = 'tool_call'").first() {
            return (try row.decodeUUID("tenant_id"), .toolCall)
        }
        return nil
    }

    func find(tenantID: UUID, recordID: String) async throws -> StoredProvenance? {
        guard
            let row = try await db.raw(
                """
                SELECT tenant_id, record_id, subject, envelope, signed_at FROM provenance_manifests
                WHERE tenant_id = \(bind: tenantID.uuidString.lowercased()) AND record_id = \(bind: recordID)
                """
            ).first()
        else { return nil }
        guard let subject = Provenance.Subject(rawValue: try row.decode(column: "subject", as: String.self)),
            let document = JSONValue.parse(try row.decode(column: "envelope", as: String.self))
        else { throw StoreError(message: "provenance_manifests holds an unknown subject or an invalid envelope") }
        return StoredProvenance(
            tenantID: try row.decodeUUID("tenant_id"), recordID: try row.decode(column: "record_id", as: String.self), subject: subject,
            envelope: try ProvenanceEnvelope.parse(document), signedAt: try row.decodeDate("signed_at"))
    }

    func insert(_ manifest: StoredProvenance) async throws -> Bool {
        let values: [any Encodable & Sendable] = [
            manifest.tenantID.uuidString.lowercased(), manifest.recordID, manifest.subject.rawValue, manifest.envelope.json.canonicalText,
            manifest.envelope.keyID, Timestamp.format(manifest.signedAt),
        ]
        let rows = try await db.raw(
            """
            INSERT INTO provenance_manifests (tenant_id, record_id, subject, envelope, key_id, signed_at) VALUES (\(binds: values))
            ON CONFLICT (tenant_id, record_id) DO NOTHING RETURNING record_id
            """
        ).all()
        return !rows.isEmpty
    }
}
