import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing
import WardenCore
import WardenStore

@testable import WardenServer

/// Builds the real application on a fresh database of each kind and runs `body` against it
/// through HummingbirdTesting's router client.
enum Backend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite
    case postgres

    static var available: [Backend] {
        let environment = ProcessInfo.processInfo.environment
        if environment["WARDEN_TEST_POSTGRES_URL"] != nil || environment["WARDEN_REQUIRE_POSTGRES"] == "1" { return [.sqlite, .postgres] }
        print("note: WARDEN_TEST_POSTGRES_URL is not set; PostgreSQL cases are not run (scripts/test runs them)")
        return [.sqlite]
    }

    var testDescription: String { rawValue }

    func freshDatabaseURL() throws -> String {
        let unique = UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        switch self {
        case .sqlite:
            return "sqlite://" + FileManager.default.temporaryDirectory.appendingPathComponent("warden-http-\(unique).db").path
        case .postgres:
            guard let url = ProcessInfo.processInfo.environment["WARDEN_TEST_POSTGRES_URL"] else {
                Issue.record("WARDEN_REQUIRE_POSTGRES=1 but WARDEN_TEST_POSTGRES_URL is not set")
                throw StoreError(message: "no PostgreSQL")
            }
            return url + (url.contains("?") ? "&" : "?") + "schema=h_\(unique)"
        }
    }
}

enum TestApp {
    static let adminToken = "test-admin-token-0123456789abcdef"

    static func configuration(databaseURL: String) -> WardenConfiguration {
        var configuration = WardenConfiguration()
        configuration.databaseURL = databaseURL
        configuration.adminToken = adminToken
        configuration.port = 0
        // Tests run side by side, each with its own pool: keep each small so the test server's
        // max_connections holds on machines with many cores.
        configuration.databasePoolSize = 8
        return configuration
    }

    static func run(
        _ backend: Backend,
        dependencies: ApplicationDependencies = ApplicationDependencies(announceGeneratedKey: { _ in }),
        mode: TestingSetup = .router,
        configure: (inout WardenConfiguration) -> Void = { _ in },
        _ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void
    ) async throws {
        let url = try backend.freshDatabaseURL()
        var logger = Logger(label: "warden.test")
        logger.logLevel = .warning
        var configuration = configuration(databaseURL: url)
        configure(&configuration)
        let app = try await buildApplication(configuration, logger: logger, dependencies: dependencies)
        try await app.test(mode) { client in try await body(client) }
        if case .sqlite(let path) = try DatabaseLocation(parsing: url) {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
    }
}

// MARK: - Request helpers

extension TestClientProtocol {
    @discardableResult
    func send(
        _ method: HTTPRequest.Method, _ uri: String, token: String? = TestApp.adminToken, json: String? = nil, headers extra: HTTPFields = [:]
    ) async throws -> TestResponse {
        var headers = extra
        if let token { headers[.authorization] = "Bearer \(token)" }
        if json != nil { headers[.contentType] = "application/json" }
        return try await execute(uri: uri, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) })
    }

    /// Approves a bundle as a new `approver` key of the tenant: the admin key wrote it, and a bundle
    /// needs someone other than its author to approve it before it can decide.
    func approveBundle(tenant: String, _ id: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let created = try await send(.post, "/v1/api-keys", json: #"{"name":"approver","role":"approver","tenant":"\#(tenant)"}"#)
        let key = try #require(try created.object()["key"] as? String, "\(created.text)", sourceLocation: sourceLocation)
        let approved = try await send(.post, "/v1/tenants/\(tenant)/bundles/\(id)/approve", token: key, json: #"{"reason":"reviewed"}"#)
        #expect(approved.status == .ok, "\(approved.text)", sourceLocation: sourceLocation)
    }
}

extension TestResponse {
    var text: String { String(buffer: body) }

    func array(_ key: String) throws -> [[String: Any]] {
        try #require(try object()[key] as? [[String: Any]], "no array '\(key)' in \(text)")
    }

    func object() throws -> [String: Any] {
        let value = try JSONSerialization.jsonObject(with: Data(text.utf8))
        return try #require(value as? [String: Any], "expected a JSON object, got \(text)")
    }

    /// Checks Warden's error shape and returns the code.
    func errorCode(sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let error = try #require(try object()["error"] as? [String: Any], "no error object in \(text)", sourceLocation: sourceLocation)
        let requestID = try #require(error["request_id"] as? String, sourceLocation: sourceLocation)
        #expect(!requestID.isEmpty, sourceLocation: sourceLocation)
        #expect(headers[HTTPField.Name("X-Request-Id")!] == requestID, "header and body carry the same request id", sourceLocation: sourceLocation)
        #expect((error["message"] as? String)?.isEmpty == false, sourceLocation: sourceLocation)
        return try #require(error["code"] as? String, sourceLocation: sourceLocation)
    }
}
