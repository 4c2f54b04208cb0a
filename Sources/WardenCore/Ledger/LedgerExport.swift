internal import Crypto
public import Foundation

/// How much of a labelled value an export keeps.
public enum RedactionLevel: String, Sendable, CaseIterable {
    /// Values as stored (secret values were never stored: their fingerprints stay).
    case none
    /// `pii` values replaced.
    case standard
    /// `pii`, `confidential` and `secret` (fingerprints) replaced.
    case strict

    var masked: Set<DataLabel> {
        switch self {
        case .none: []
        case .standard: [.pii]
        case .strict: [.pii, .confidential, .secret]
        }
    }
}

/// Ledger exports as JSON lines: one `entry` line per ledger entry in order, then one `manifest`
/// line with the counts, the chain range, the signed checkpoints in range and the SHA-256 of every
/// byte before it. Pure: the caller streams the lines.
public enum LedgerExport {
    public static let format = "warden-ledger-export-v1"

    /// The body as exported at `level`: labelled values replaced by `[redacted <label>]`. Approval
    /// bodies carry their labels at the root (`input.…`); run steps over their `data`.
    public static func redact(_ entry: LedgerEntry, level: RedactionLevel) -> (body: JSONValue, redacted: Bool) {
        let original = JSONValue.parse(entry.body) ?? .string(entry.body)
        guard level != .none, case .object(var fields) = original, case .object(let labelObject)? = fields["labels"] else {
            return (original, false)
        }
        var labels: [String: DataLabel] = [:]
        for (path, value) in labelObject {
            if case .string(let name) = value, let label = DataLabel(rawValue: name), level.masked.contains(label) { labels[path] = label }
        }
        guard !labels.isEmpty else { return (original, false) }
        let mask: (JSONValue) -> JSONValue = { document in
            Redaction.replacing(document, labels: labels) { label, _ in .string("[redacted \(label.rawValue)]") }
        }
        if entry.kind == .runStep, let data = fields["data"] {
            fields["data"] = mask(data)
        } else if entry.kind == .decision, case .string(let text)? = fields["input"], let input = JSONValue.parse(text) {
            // A decision keeps its input as JSON text: masked as a document, written back as text.
            fields["input"] = .string(Redaction.unwrap(mask(.object(["input": input]))).canonicalText)
        } else {
            guard case .object(let masked) = mask(.object(fields)) else { return (original, false) }
            fields = masked
        }
        let redacted = JSONValue.object(fields)
        return (redacted, redacted != original)
    }

    /// One `entry` line (without its newline), and whether anything in it was redacted.
    public static func line(_ entry: LedgerEntry, level: RedactionLevel) -> (bytes: [UInt8], redacted: Bool) {
        let (body, redacted) = redact(entry, level: level)
        let bytes = JSONValue.object([
            "type": .string("entry"), "sequence": .int(entry.sequence), "kind": .string(entry.kind.rawValue),
            "record_id": .string(entry.recordID), "at": .string(Timestamp.format(entry.at)), "body": body,
            "body_sha256": .string(LedgerChain.digest(entry.body)), "redacted": .bool(redacted), "previous_hash": .string(entry.previousHash),
            "hash": .string(entry.hash),
        ]).canonicalBytes
        return (bytes, redacted)
    }

    /// A running SHA-256 over the exported bytes, with the counts the manifest reports.
    public struct Digest: Sendable {
        var hasher = SHA256()
        public private(set) var entries = 0
        public private(set) var redacted = 0
        public private(set) var kinds: [String: Int] = [:]
        public private(set) var first: Int64?
        public private(set) var last: Int64?
        public private(set) var bytes = 0

        public init() {}

        public mutating func add(_ line: [UInt8], entry: LedgerEntry, redacted wasRedacted: Bool) {
            hasher.update(data: line)
            hasher.update(data: [0x0a])
            bytes += line.count + 1
            entries += 1
            if wasRedacted { redacted += 1 }
            kinds[entry.kind.rawValue, default: 0] += 1
            if first == nil { first = entry.sequence }
            last = entry.sequence
        }

        public var hex: String { WebhookSignature.hex(Array(hasher.finalize())) }
    }

    /// The closing `manifest` line (without its newline).
    public static func manifest(
        tenant: Tenant, from: Date?, to: Date?, level: RedactionLevel, digest: Digest, checkpoints: [LedgerCheckpoint], exportedAt: Date
    ) -> [UInt8] {
        let inRange = checkpoints.filter { checkpoint in
            guard let first = digest.first, let last = digest.last else { return false }
            return checkpoint.sequence >= first && checkpoint.sequence <= last
        }
        return JSONValue.object([
            "type": .string("manifest"), "format": .string(format), "tenant": .string(tenant.slug),
            "tenant_id": .string(tenant.id.uuidString.lowercased()), "from": from.map { .string(Timestamp.format($0)) } ?? .null,
            "to": to.map { .string(Timestamp.format($0)) } ?? .null, "redaction_level": .string(level.rawValue),
            "entries": .int(Int64(digest.entries)), "redacted_entries": .int(Int64(digest.redacted)),
            "kinds": .object(digest.kinds.mapValues { .int(Int64($0)) }), "first_sequence": digest.first.map { .int($0) } ?? .null,
            "last_sequence": digest.last.map { .int($0) } ?? .null,
            "checkpoints": .array(
                inRange.map { checkpoint in
                    .object([
                        "sequence": .int(checkpoint.sequence), "hash": .string(checkpoint.hash), "key_id": .string(checkpoint.keyID),
                        "signature": .string(Data(checkpoint.signature).base64EncodedString()),
                        "signed_at": .string(Timestamp.format(checkpoint.signedAt)),
                    ])
                }),
            "sha256": .string(digest.hex), "exported_at": .string(Timestamp.format(exportedAt)),
        ]).canonicalBytes
    }

    /// Checks an export file offline: the manifest's checksum over every byte before it, each entry's
    /// hash (from its body, or from `body_sha256` when redacted), the links between entries, and each
    /// checkpoint's signature against `publicKeys` and its hash against the entry it names.
    public static func verify(lines: some Sequence<[UInt8]>, publicKeys: [String: [UInt8]]) -> (valid: Bool, entries: Int, problem: String?) {
        var hasher = SHA256()
        var previous: (sequence: Int64, hash: String)?
        var hashes: [Int64: String] = [:]
        var count = 0
        var manifest: [String: JSONValue]?
        for line in lines where !line.isEmpty {
            guard manifest == nil else { return (false, count, "there are lines after the manifest") }
            guard case .object(let fields)? = line.withUnsafeBytes({ try? JSONValue.parse(bytes: $0) }), case .string(let type)? = fields["type"]
            else {
                return (false, count, "line \(count + 1) is not a JSON object with a type")
            }
            if type == "manifest" {
                manifest = fields
                continue
            }
            hasher.update(data: line)
            hasher.update(data: [0x0a])
            guard type == "entry", case .int(let sequence)? = fields["sequence"], case .string(let kindName)? = fields["kind"],
                let kind = LedgerKind(rawValue: kindName), case .string(let recordID)? = fields["record_id"],
                case .string(let atText)? = fields["at"], let at = Timestamp.parse(atText), case .string(let previousHash)? = fields["previous_hash"],
                case .string(let hash)? = fields["hash"], case .string(let bodyDigest)? = fields["body_sha256"], let body = fields["body"]
            else { return (false, count, "line \(count + 1) is not a ledger entry") }
            if case .bool(false)? = fields["redacted"], LedgerChain.digest(body.canonicalText) != bodyDigest {
                return (false, count, "entry \(sequence): its body does not match its digest (changed)")
            }
            if let previous {
                guard sequence == previous.sequence + 1 else { return (false, count, "entry \(previous.sequence + 1) is missing") }
                guard previousHash == previous.hash else {
                    return (false, count, "entry \(sequence): its previous hash does not match entry \(previous.sequence)")
                }
            }
            guard LedgerChain.hash(previous: previousHash, sequence: sequence, kind: kind, recordID: recordID, at: at, bodyDigest: bodyDigest) == hash
            else {
                return (false, count, "entry \(sequence): its content does not match its hash (changed)")
            }
            previous = (sequence, hash)
            hashes[sequence] = hash
            count += 1
        }
        guard let manifest else { return (false, count, "the file has no manifest line (cut off?)") }
        guard case .string(let checksum)? = manifest["sha256"], checksum == WebhookSignature.hex(Array(hasher.finalize())) else {
            return (false, count, "the manifest's sha256 does not match the entries")
        }
        guard case .int(let declared)? = manifest["entries"], declared == Int64(count) else {
            return (false, count, "the manifest counts a different number of entries")
        }
        guard case .string(let tenantText)? = manifest["tenant_id"], let tenantID = UUID(uuidString: tenantText) else {
            return (false, count, "the manifest names no tenant")
        }
        if case .array(let checkpoints)? = manifest["checkpoints"] {
            for item in checkpoints {
                guard case .object(let fields) = item, case .int(let sequence)? = fields["sequence"], case .string(let hash)? = fields["hash"],
                    case .string(let keyID)? = fields["key_id"], case .string(let signatureText)? = fields["signature"],
                    let signature = Data(base64Encoded: signatureText), case .string(let signedText)? = fields["signed_at"],
                    let signedAt = Timestamp.parse(signedText)
                else { return (false, count, "a checkpoint in the manifest is malformed") }
                guard let key = publicKeys[keyID] else {
                    return (false, count, "the checkpoint at \(sequence) is signed with unknown key '\(keyID)'")
                }
                let checkpoint = LedgerCheckpoint(
                    tenantID: tenantID, sequence: sequence, hash: hash, keyID: keyID, signature: Array(signature), signedAt: signedAt)
                guard checkpoint.isSigned(by: key) else { return (false, count, "the checkpoint at \(sequence) has an invalid signature") }
                guard hashes[sequence] == hash else { return (false, count, "the chain at \(sequence) does not have the hash its checkpoint signs") }
            }
        }
        return (true, count, nil)
    }
}
