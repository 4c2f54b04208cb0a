import Foundation
import Testing

@testable import WardenCore

/// Exports: redaction by label at each level, and the offline check of an export file (checksum,
/// chain, hashes of redacted entries through their digests, signed checkpoints). Pure.
@Suite struct LedgerExportTests {
    static let tenant = Tenant(id: UUID(), slug: "acme", name: "Acme", createdAt: Date(timeIntervalSince1970: 1_800_000_000))

    static func entries() -> [LedgerEntry] {
        let step = LedgerItem(
            kind: .runStep, recordID: "s1", at: Date(timeIntervalSince1970: 1_800_000_001),
            body: .object([
                "id": .string("s1"),
                "data": .object([
                    "tool": .string("refund"), "input": .object(["card": .string("4111"), "order": .int(42)]),
                    "output": .object(["email": .string("ann@example.com")]),
                ]),
                "labels": .object(["input.card": .string("confidential"), "output.email": .string("pii")]),
            ]))
        let approval = LedgerItem(
            kind: .approval, recordID: "a1", at: Date(timeIntervalSince1970: 1_800_000_002),
            body: .object(["input": .object(["ssn": .string("123-45")]), "labels": .object(["input.ssn": .string("pii")])]))
        let plain = LedgerItem(
            kind: .decision, recordID: "d1", at: Date(timeIntervalSince1970: 1_800_000_003), body: .object(["effect": .string("allow")]))
        return LedgerChain.link([plain, step, approval, plain], tenantID: tenant.id, after: 0, previous: LedgerChain.genesis).entries
    }

    static func export(_ level: RedactionLevel, signer: LedgerSigner) throws -> [[UInt8]] {
        var digest = LedgerExport.Digest()
        var lines: [[UInt8]] = []
        let entries = Self.entries()
        for entry in entries {
            let (line, redacted) = LedgerExport.line(entry, level: level)
            digest.add(line, entry: entry, redacted: redacted)
            lines.append(line)
        }
        let checkpoint = try signer.sign(tenantID: tenant.id, sequence: 3, hash: entries[2].hash, at: Date())
        lines.append(
            LedgerExport.manifest(
                tenant: tenant, from: nil, to: nil, level: level, digest: digest, checkpoints: [checkpoint], exportedAt: Date()))
        return lines
    }

    @Test func levelsRedactByLabelAndTheFileStillVerifies() throws {
        let signer = try LedgerSigner(keyID: "k", privateKey: AgentTokenAuthority.generateKey())
        let keys = ["k": signer.publicKey]
        for level in RedactionLevel.allCases {
            let lines = try Self.export(level, signer: signer)
            let text = lines.map { String(decoding: $0, as: UTF8.self) }.joined(separator: "\n")
            #expect(text.contains("ann@example.com") == (level == .none), "\(level)")
            #expect(text.contains("123-45") == (level == .none), "\(level)")
            #expect(text.contains("4111") == (level != .strict), "\(level)")
            #expect(text.contains(#""order":42"#), "unlabelled values stay")
            let result = LedgerExport.verify(lines: lines, publicKeys: keys)
            #expect(result.valid && result.entries == 4, "\(level): \(result)")
        }
    }

    @Test func changedMissingOrUnsignedContentIsFound() throws {
        let signer = try LedgerSigner(keyID: "k", privateKey: AgentTokenAuthority.generateKey())
        let keys = ["k": signer.publicKey]
        let lines = try Self.export(.none, signer: signer)
        var changed = lines
        changed[0] = Array(String(decoding: changed[0], as: UTF8.self).replacingOccurrences(of: "allow", with: "deny").utf8)
        #expect(LedgerExport.verify(lines: changed, publicKeys: keys).problem?.contains("body does not match its digest") == true)
        var missing = lines
        missing.remove(at: 1)
        #expect(LedgerExport.verify(lines: missing, publicKeys: keys).problem?.contains("missing") == true)
        #expect(LedgerExport.verify(lines: lines.dropLast(), publicKeys: keys).problem?.contains("no manifest") == true)
        #expect(LedgerExport.verify(lines: lines, publicKeys: [:]).problem?.contains("unknown key") == true)
        let stranger = try LedgerSigner(keyID: "k", privateKey: AgentTokenAuthority.generateKey())
        #expect(LedgerExport.verify(lines: lines, publicKeys: ["k": stranger.publicKey]).problem?.contains("invalid signature") == true)
        // A redacted body can be edited freely (it is not hashed), but its digest cannot.
        let strict = try Self.export(.strict, signer: signer)
        var forged = strict
        forged[1] = Array(String(decoding: forged[1], as: UTF8.self).replacingOccurrences(of: "\"body_sha256\":\"", with: "\"body_sha256\":\"0").utf8)
        #expect(!LedgerExport.verify(lines: forged, publicKeys: keys).valid)
    }
}
