internal import Crypto
public import Foundation

/// A signed provenance manifest for one ledger record (a decision or a tool call): an in-toto
/// Statement (v1) in a DSSE envelope, signed with the ledger's Ed25519 key. The statement carries
/// the record's canonical body exactly as the ledger hashed it, its ledger entry (sequence,
/// previous hash, hash) and the signed checkpoint that covers it, if one did when it was issued, so
/// the manifest can be checked offline with nothing but the public keys of `GET /v1/keys`.
public struct ProvenanceEnvelope: Sendable, Equatable {
    public static let payloadType = "application/vnd.in-toto+json"

    /// The statement's canonical JSON, as signed.
    public var payload: [UInt8]
    public var keyID: String
    public var signature: [UInt8]

    public init(payload: [UInt8], keyID: String, signature: [UInt8]) {
        self.payload = payload
        self.keyID = keyID
        self.signature = signature
    }

    /// DSSE's pre-authentication encoding: `"DSSEv1" SP len(type) SP type SP len(body) SP body`.
    public static func pae(type: String, body: [UInt8]) -> [UInt8] {
        Array("DSSEv1 \(type.utf8.count) \(type) \(body.count) ".utf8) + body
    }

    /// `{payloadType, payload, signatures: [{keyid, sig}]}`, base64 as DSSE has it.
    public var json: JSONValue {
        .object([
            "payloadType": .string(Self.payloadType), "payload": .string(Data(payload).base64EncodedString()),
            "signatures": .array([.object(["keyid": .string(keyID), "sig": .string(Data(signature).base64EncodedString())])]),
        ])
    }

    /// Reads an envelope as `json` writes it (the first signature is Warden's).
    public static func parse(_ value: JSONValue) throws(WardenError) -> ProvenanceEnvelope {
        guard case .object(let fields) = value else { throw WardenError(.invalidField, "a provenance envelope is a JSON object") }
        guard case .string(let type)? = fields["payloadType"], type == payloadType else {
            throw WardenError(.invalidField, "payloadType must be \(payloadType)")
        }
        guard case .string(let payloadText)? = fields["payload"], let payload = Data(base64Encoded: payloadText) else {
            throw WardenError(.invalidField, "payload must be base64")
        }
        guard case .array(let signatures)? = fields["signatures"], case .object(let first)? = signatures.first,
            case .string(let keyID)? = first["keyid"], case .string(let sigText)? = first["sig"], let signature = Data(base64Encoded: sigText)
        else { throw WardenError(.invalidField, "signatures must hold one {keyid, sig} with a base64 signature") }
        return ProvenanceEnvelope(payload: Array(payload), keyID: keyID, signature: Array(signature))
    }

    /// The statement, parsed.
    public var statement: JSONValue? { String(bytes: payload, encoding: .utf8).flatMap(JSONValue.parse) }
}

/// Issuing and checking provenance manifests; pure.
public enum Provenance {
    public static let statementType = "https://in-toto.io/Statement/v1"
    public static let predicateType = "https://warden.dev/provenance/v1"

    /// What a manifest is about: a decision, or a run step of kind `tool_call`.
    public enum Subject: String, Sendable {
        case decision
        case toolCall = "tool_call"

        public var ledgerKind: LedgerKind { self == .decision ? .decision : .runStep }
    }

    /// The statement for `entry` (the record's ledger entry) in `tenant`, with the checkpoint that
    /// covers it, if any.
    public static func statement(
        tenantID: UUID, tenantSlug: String, subject: Subject, entry: LedgerEntry, checkpoint: LedgerCheckpoint?, issuedAt: Date
    ) -> JSONValue {
        let bodyDigest = LedgerChain.digest(entry.body)
        let body = JSONValue.parse(entry.body) ?? .string(entry.body)
        var policy: [String: JSONValue] = [:]
        if case .object(let fields) = body {
            if subject == .decision {
                policy["bundle"] = fields["bundle"] ?? .null
                policy["bundle_id"] = fields["bundle_id"] ?? .null
                policy["effect"] = fields["effect"] ?? .null
            } else if case .object(let data)? = fields["data"] {
                policy["decision_id"] = data["decision_id"] ?? .null
                policy["approval_id"] = data["approval_id"] ?? .null
            }
        }
        return .object([
            "_type": .string(statementType),
            "subject": .array([
                .object([
                    "name": .string("warden:\(tenantSlug):\(subject.rawValue):\(entry.recordID)"),
                    "digest": .object(["sha256": .string(bodyDigest)]),
                ])
            ]),
            "predicateType": .string(predicateType),
            "predicate": .object([
                "tenant": .object(["id": .string(tenantID.uuidString.lowercased()), "slug": .string(tenantSlug)]),
                "record": .object(["kind": .string(subject.rawValue), "id": .string(entry.recordID), "body": body]),
                "policy": .object(policy),
                "ledger": .object([
                    "kind": .string(entry.kind.rawValue), "sequence": .int(entry.sequence), "at": .string(Timestamp.format(entry.at)),
                    "body_sha256": .string(bodyDigest), "previous_hash": .string(entry.previousHash), "hash": .string(entry.hash),
                ]),
                "checkpoint": checkpoint.map { checkpoint in
                    .object([
                        "sequence": .int(checkpoint.sequence), "hash": .string(checkpoint.hash), "key_id": .string(checkpoint.keyID),
                        "signature": .string(Data(checkpoint.signature).base64EncodedString()),
                        "signed_at": .string(Timestamp.format(checkpoint.signedAt)),
                    ])
                } ?? .null,
                "issued_at": .string(Timestamp.format(issuedAt)),
            ]),
        ])
    }

    /// Signs a statement's canonical bytes (DSSE's encoding) with the ledger key.
    public static func sign(_ statement: JSONValue, with signer: LedgerSigner) throws -> ProvenanceEnvelope {
        let payload = statement.canonicalBytes
        let key = try Curve25519.Signing.PrivateKey(rawRepresentation: signer.privateKey)
        let signature = try key.signature(for: ProvenanceEnvelope.pae(type: ProvenanceEnvelope.payloadType, body: payload))
        return ProvenanceEnvelope(payload: payload, keyID: signer.keyID, signature: Array(signature))
    }

    /// What a check of a manifest found. `reason` says what failed, or what was checked.
    public struct Verification: Sendable, Equatable {
        public var valid: Bool
        public var keyID: String
        public var signedAt: Date?
        public var reason: String
        public var subject: Subject?
        public var recordID: String?
        public var tenantID: UUID?
        public var sequence: Int64?
        public var bodyDigest: String?
        public var entryHash: String?
        public var checkpointSequence: Int64?

        func failing(_ reason: String) -> Verification {
            var copy = self
            copy.valid = false
            copy.reason = reason
            return copy
        }
    }

    /// Checks a manifest without a database: the DSSE signature against `keys` (current and retired
    /// ledger keys), the statement's shape, the record body against the subject's digest, the ledger
    /// hash recomputed from the entry's fields, and the embedded checkpoint's own signature.
    public static func verify(_ envelope: ProvenanceEnvelope, keys: [String: [UInt8]]) -> Verification {
        var result = Verification(valid: false, keyID: envelope.keyID, reason: "")
        guard let raw = keys[envelope.keyID] else {
            return result.failing("signed with unknown key '\(envelope.keyID)' (not among the current and retired keys of GET /v1/keys)")
        }
        guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: raw),
            key.isValidSignature(envelope.signature, for: ProvenanceEnvelope.pae(type: ProvenanceEnvelope.payloadType, body: envelope.payload))
        else { return result.failing("the signature does not match the manifest (changed after signing, or signed with another key)") }
        guard case .object(let statement)? = envelope.statement, statement["_type"] == .string(statementType),
            statement["predicateType"] == .string(predicateType), case .object(let predicate)? = statement["predicate"],
            case .array(let subjects)? = statement["subject"], case .object(let subject)? = subjects.first,
            case .object(let digest)? = subject["digest"], case .string(let subjectDigest)? = digest["sha256"],
            case .object(let record)? = predicate["record"], case .string(let kindName)? = record["kind"], let kind = Subject(rawValue: kindName),
            case .string(let recordID)? = record["id"], let body = record["body"], case .object(let ledger)? = predicate["ledger"],
            case .int(let sequence)? = ledger["sequence"], case .string(let atText)? = ledger["at"], let at = Timestamp.parse(atText),
            case .string(let previous)? = ledger["previous_hash"], case .string(let hash)? = ledger["hash"],
            case .object(let tenant)? = predicate["tenant"], case .string(let tenantText)? = tenant["id"],
            let tenantID = UUID(uuidString: tenantText),
            case .string(let issuedText)? = predicate["issued_at"], let issuedAt = Timestamp.parse(issuedText)
        else { return result.failing("the signed payload is not a Warden provenance statement") }
        result.signedAt = issuedAt
        result.subject = kind
        result.recordID = recordID
        result.tenantID = tenantID
        result.sequence = sequence
        result.bodyDigest = subjectDigest
        result.entryHash = hash
        guard LedgerChain.digest(body.canonicalText) == subjectDigest else {
            return result.failing("the record in the manifest does not match the subject's digest")
        }
        guard
            LedgerChain.hash(previous: previous, sequence: sequence, kind: kind.ledgerKind, recordID: recordID, at: at, bodyDigest: subjectDigest)
                == hash
        else { return result.failing("the ledger hash in the manifest does not follow from the entry it names") }
        if case .object(let checkpoint)? = predicate["checkpoint"] {
            guard case .int(let checkpointSequence)? = checkpoint["sequence"], case .string(let checkpointHash)? = checkpoint["hash"],
                case .string(let checkpointKey)? = checkpoint["key_id"], case .string(let signatureText)? = checkpoint["signature"],
                let signature = Data(base64Encoded: signatureText), case .string(let signedText)? = checkpoint["signed_at"],
                let signedAt = Timestamp.parse(signedText), checkpointSequence >= sequence
            else { return result.failing("the manifest's checkpoint is malformed") }
            guard let publicKey = keys[checkpointKey] else {
                return result.failing("the manifest's checkpoint is signed with unknown key '\(checkpointKey)'")
            }
            let stated = LedgerCheckpoint(
                tenantID: tenantID, sequence: checkpointSequence, hash: checkpointHash, keyID: checkpointKey, signature: Array(signature),
                signedAt: signedAt)
            guard stated.isSigned(by: publicKey) else { return result.failing("the manifest's checkpoint signature is invalid") }
            if checkpointSequence == sequence, checkpointHash != hash {
                return result.failing("the manifest's checkpoint names another hash for the record's entry")
            }
            result.checkpointSequence = checkpointSequence
        }
        result.valid = true
        result.reason =
            "signature, record digest and ledger hash check"
            + (result.checkpointSequence.map { "; covered by the signed checkpoint at \($0)" } ?? "; no checkpoint covered it when issued")
        return result
    }
}

/// A manifest as issued and kept: one per record, so a manifest handed to an auditor stays the one
/// Warden answers later.
public struct StoredProvenance: Sendable, Equatable {
    public var tenantID: UUID
    public var recordID: String
    public var subject: Provenance.Subject
    public var envelope: ProvenanceEnvelope
    public var signedAt: Date

    public init(tenantID: UUID, recordID: String, subject: Provenance.Subject, envelope: ProvenanceEnvelope, signedAt: Date) {
        self.tenantID = tenantID
        self.recordID = recordID
        self.subject = subject
        self.envelope = envelope
        self.signedAt = signedAt
    }
}

public protocol ProvenanceRepository: Sendable {
    /// The tenant holding a decision or a tool-call step with this id, if any.
    func owner(recordID: UUID) async throws -> (tenantID: UUID, subject: Provenance.Subject)?
    func find(tenantID: UUID, recordID: String) async throws -> StoredProvenance?
    /// Keeps the first manifest issued for a record; `false` if one was already kept.
    func insert(_ manifest: StoredProvenance) async throws -> Bool
}
