import Foundation
import Testing

@testable import WardenCore

@Suite struct SlugTests {
    @Test(arguments: ["ab", "acme", "acme-prod", "a1-b2-c3", String(repeating: "a", count: 63)])
    func acceptsValidSlugs(_ slug: String) throws {
        try Tenant.validate(slug: slug)
    }

    @Test(arguments: [
        ("a", "2 to 63"), ("", "2 to 63"), (String(repeating: "a", count: 64), "2 to 63"), ("1abc", "start with"),
        ("-abc", "start with"), ("Acme", "start with"), ("ac_me", "only lowercase"), ("ac me", "only lowercase"),
        ("ac--me", "two hyphens"), ("acme-", "end with"), ("acmé", "only lowercase"),
    ])
    func rejectsInvalidSlugs(_ slug: String, _ fragment: String) {
        #expect {
            try Tenant.validate(slug: slug)
        } throws: { error in
            guard let error = error as? WardenError else { return false }
            return error.code == .invalidField && error.message.contains(fragment)
        }
    }
}

@Suite struct PrincipalTests {
    let tenantA = UUID()
    let tenantB = UUID()

    @Test func globalAdminMaySeeAndDoEverything() {
        let admin = Principal(keyID: UUID(), keyName: "root", role: .admin, tenantID: nil)
        #expect(admin.isGlobalAdmin)
        for permission in Permission.allCases { #expect(admin.has(permission)) }
        #expect(admin.canSee(tenantID: tenantA))
    }

    @Test func tenantAdminCannotManageTenantsOrSeeOthers() {
        let admin = Principal(keyID: UUID(), keyName: "a", role: .admin, tenantID: tenantA)
        #expect(!admin.isGlobalAdmin)
        #expect(!admin.has(.manageTenants))
        #expect(admin.has(.manageAPIKeys))
        #expect(admin.canSee(tenantID: tenantA))
        #expect(!admin.canSee(tenantID: tenantB))
    }

    @Test(arguments: [Role.operator, .approver, .author])
    func nonAdminRolesReadOnlyTheirTenant(_ role: Role) {
        let principal = Principal(keyID: UUID(), keyName: "k", role: role, tenantID: tenantA)
        #expect(principal.has(.readTenant))
        #expect(!principal.has(.manageAPIKeys))
        #expect(!principal.has(.readAudit))
        #expect(throws: WardenError.self) { try principal.require(.manageAPIKeys) }
    }

    @Test func auditorReadsAudit() {
        let auditor = Principal(keyID: UUID(), keyName: "k", role: .auditor, tenantID: tenantA)
        #expect(auditor.has(.readAudit))
        #expect(!auditor.has(.manageAPIKeys))
    }
}

@Suite struct APIKeySecretTests {
    struct CountingRandom: RandomSource {
        func bytes(_ count: Int) -> [UInt8] { (0..<count).map { UInt8($0) } }
    }

    @Test func generatedSecretsHaveTheSchemeAndAreUnique() {
        let one = APIKeySecret.generate(using: SystemRandomSource())
        let two = APIKeySecret.generate(using: SystemRandomSource())
        #expect(one.hasPrefix("wdn_"))
        #expect(one.count == 4 + 43)
        #expect(one != two)
        #expect(!one.contains("=") && !one.contains("+") && !one.contains("/"))
    }

    @Test func generationUsesTheInjectedRandomSource() {
        let secret = APIKeySecret.generate(using: CountingRandom())
        #expect(secret == "wdn_" + Base64URL.encode((0..<32).map { UInt8($0) }))
        #expect(APIKeySecret.prefix(of: secret) == String(secret.dropFirst(4).prefix(8)))
    }

    @Test func hashIsSHA256Hex() {
        // FIPS 180-2 test vector.
        #expect(APIKeySecret.hash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func base64URLRoundTrips() {
        for length in 0..<40 {
            let bytes = (0..<length).map { UInt8(($0 * 37 + 11) % 256) }
            #expect(Base64URL.decode(Base64URL.encode(bytes)) == bytes)
        }
    }
}

@Suite struct PagingTests {
    @Test func cursorRoundTrips() throws {
        let cursor = Cursor(createdAt: "2026-11-23T06:40:45.123456Z", id: UUID().uuidString.lowercased())
        #expect(try Cursor.decode(cursor.encoded) == cursor)
    }

    @Test(arguments: ["", "!!!", Base64URL.encode(Array("no-separator".utf8)), Base64URL.encode(Array("not-a-time|x".utf8))])
    func rejectsBadCursors(_ text: String) {
        #expect(throws: WardenError(.invalidCursor, "cursor is not valid; pass the next_cursor from a previous page")) {
            try Cursor.decode(text)
        }
    }

    @Test func limitIsValidated() throws {
        #expect(try PageRequest(limit: nil, cursor: nil).limit == PageRequest.defaultLimit)
        #expect(try PageRequest(limit: "500", cursor: nil).limit == 500)
        for bad in ["0", "501", "-1", "ten"] {
            #expect(throws: WardenError.self) { try PageRequest(limit: bad, cursor: nil) }
        }
    }
}

@Suite struct TimestampTests {
    @Test func formatsFixedWidthUTCWithMicroseconds() {
        let date = Date(timeIntervalSince1970: 1_795_400_445.123_456_7)
        let text = Timestamp.format(date)
        #expect(text.count == "2026-11-23T06:40:45.123456Z".count)
        #expect(text.hasSuffix("Z"))
        #expect(text.contains(".123457"), "rounded to the nearest microsecond")
    }

    @Test func sortsLexicallyInTimeOrder() {
        let dates = [0.5, 1.0, 59.999_999, 3600.25, 1_795_400_445.1].map { Date(timeIntervalSince1970: $0) }
        let texts = dates.map(Timestamp.format)
        #expect(texts == texts.sorted())
    }

    @Test func textRoundTripsExactlyForManyInstants() {
        var seed: UInt64 = 42
        for _ in 0..<10_000 {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let date = Date(timeIntervalSince1970: Double(seed % 4_000_000_000_000_000) / 1_000_000)
            let text = Timestamp.format(date)
            #expect(Timestamp.format(Timestamp.parse(text)!) == text)
        }
    }

    @Test func agreesWithFoundationsCalendar() throws {
        var seed: UInt64 = 7
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        for _ in 0..<2_000 {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            // Whole seconds from 1900 to 2100.
            let seconds = Double(Int64(seed % 6_311_390_400) - 2_208_988_800)
            let date = Date(timeIntervalSince1970: seconds)
            let ours = Timestamp.format(date)
            #expect(String(ours.prefix(19)) + "Z" == formatter.string(from: date), "\(seconds)")
            #expect(Timestamp.parse(ours) == date)
        }
    }

    @Test func parsesOffsetsAndRejectsNonsense() throws {
        let utc = try #require(Timestamp.parse("2026-01-31T12:00:00Z"))
        #expect(Timestamp.parse("2026-01-31T14:30:00+02:30") == utc)
        #expect(Timestamp.parse("2026-01-31T07:00:00-05:00") == utc)
        #expect(Timestamp.parse("2026-01-31t12:00:00.5z") == utc.addingTimeInterval(0.5))
        #expect(Timestamp.parse("2026-01-31T12:00:00.1234567891Z") == Timestamp.parse("2026-01-31T12:00:00.123456Z"))
        for bad in [
            "yesterday", "2026-13-01T00:00:00Z", "2026-02-29T00:00:00Z", "2026-01-31T24:00:00Z", "2026-01-31T12:00:00",
            "2026-01-31T12:00:00.Z", "2026-01-31T12:00:00Zjunk", "2026-1-31T12:00:00Z", "2026-01-31T12:00:00+2:00",
        ] {
            #expect(Timestamp.parse(bad) == nil, "\(bad)")
        }
        #expect(Timestamp.parse("2024-02-29T00:00:00Z") != nil)
    }

    @Test func truncatedRoundTripsThroughText() {
        let date = Date(timeIntervalSince1970: 1_795_400_445.987_654_321)
        let truncated = Timestamp.truncated(date)
        #expect(Timestamp.parse(Timestamp.format(truncated)) == truncated)
        #expect(abs(truncated.timeIntervalSince(date)) < 0.000_002)
    }
}
