import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

/// Options for commands that talk to a running server.
struct ClientOptions: ParsableArguments {
    @Option(help: "Server URL (env WARDEN_URL; default http://127.0.0.1:8080).") var server: String?
    @Option(help: "API key (env WARDEN_TOKEN).") var token: String?
    @Option(help: "Output format: table or json.") var output: OutputFormat = .table

    enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
        case table
        case json
    }

    var baseURL: String {
        let value = server ?? ProcessInfo.processInfo.environment["WARDEN_URL"] ?? "http://127.0.0.1:8080"
        return value.hasSuffix("/") ? String(value.dropLast()) : value
    }

    var bearer: String? { token ?? ProcessInfo.processInfo.environment["WARDEN_TOKEN"] }

    /// Sends a request and returns the decoded JSON object; a non-2xx answer becomes a `CLIError`
    /// carrying the server's error code and message.
    func call(
        _ method: String, _ path: String, query: [(String, String)] = [], body: [String: Any]? = nil, headers: [(String, String)] = []
    ) async throws -> Any {
        try await callWithStatus(method, path, query: query, body: body, headers: headers).json
    }

    /// A lifecycle step (`POST path` with one optional text field, such as a reason or comment), printed.
    func post(_ path: String, _ field: String, _ value: String?, columns: [String]) async throws {
        var body: [String: Any] = [:]
        if let value { body[field] = value }
        print(try await call("POST", path, body: body), columns: columns)
    }

    /// A failed call: the HTTP status and Warden's error code.
    struct Failure: Error {
        var status: Int
        var code: String
        var message: String
    }

    /// Like `call`, but answers with the status; errors from the server are `CLIError`s whose
    /// `failure` carries status and code so callers can tell "already exists" from a real failure.
    func callWithStatus(
        _ method: String, _ path: String, query: [(String, String)] = [], body: [String: Any]? = nil, headers: [(String, String)] = []
    ) async throws -> (status: Int, json: Any) {
        let (status, bytes) = try await send(method, path, query: query, body: body, headers: headers)
        let json = try? JSONSerialization.jsonObject(with: Data(buffer: bytes), options: [.fragmentsAllowed])
        return (status, json ?? [:])
    }

    /// The answer's body as text (JSON lines, say); errors as for `call`.
    func text(_ method: String, _ path: String, query: [(String, String)] = []) async throws -> String {
        String(buffer: try await send(method, path, query: query, body: nil, headers: []).body)
    }

    /// Streams the answer's body to `chunk`, piece by piece; a non-2xx answer is an error as for `call`.
    func stream(_ method: String, _ path: String, query: [(String, String)], _ chunk: ([UInt8]) throws -> Void) async throws {
        guard let bearer else { throw CLIError("no API key: pass --token or set WARDEN_TOKEN") }
        var components = URLComponents(string: baseURL + path)
        if !query.isEmpty { components?.queryItems = query.map { URLQueryItem(name: $0.0, value: $0.1) } }
        guard let url = components?.string else { throw CLIError("invalid server URL \(baseURL)") }
        var request = HTTPClientRequest(url: url)
        request.method = HTTPMethod(rawValue: method)
        request.headers.add(name: "Authorization", value: "Bearer \(bearer)")
        let response: HTTPClientResponse
        do {
            response = try await HTTPClient.shared.execute(request, timeout: .hours(1))
        } catch {
            throw CLIError("cannot reach Warden at \(baseURL): \(error)")
        }
        guard (200..<300).contains(response.status.code) else {
            let bytes = try await response.body.collect(upTo: 1 << 20)
            let object = try? JSONSerialization.jsonObject(with: Data(buffer: bytes)) as? [String: Any]
            let error = object?["error"] as? [String: Any]
            throw CLIError("\(response.status.code) \(error?["code"] as? String ?? "error"): \(error?["message"] as? String ?? "")")
        }
        for try await buffer in response.body { try chunk(Array(buffer.readableBytesView)) }
    }

    /// Sends a request; a non-2xx answer becomes a `CLIError` carrying the server's error code.
    private func send(
        _ method: String, _ path: String, query: [(String, String)], body: [String: Any]?, headers: [(String, String)]
    ) async throws -> (status: Int, body: ByteBuffer) {
        guard let bearer else { throw CLIError("no API key: pass --token or set WARDEN_TOKEN") }
        var components = URLComponents(string: baseURL + path)
        if !query.isEmpty { components?.queryItems = query.map { URLQueryItem(name: $0.0, value: $0.1) } }
        guard let url = components?.string else { throw CLIError("invalid server URL \(baseURL)") }
        var request = HTTPClientRequest(url: url)
        request.method = HTTPMethod(rawValue: method)
        request.headers.add(name: "Authorization", value: "Bearer \(bearer)")
        request.headers.add(name: "Accept", value: "application/json")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            let data = try JSONSerialization.data(withJSONObject: body)
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(data: data))
        }
        let response: HTTPClientResponse
        let bytes: ByteBuffer
        do {
            response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
            bytes = try await response.body.collect(upTo: 64 << 20)
        } catch {
            throw CLIError("cannot reach Warden at \(baseURL): \(error)")
        }
        guard (200..<300).contains(response.status.code) else {
            let json = try? JSONSerialization.jsonObject(with: Data(buffer: bytes), options: [.fragmentsAllowed])
            if let object = json as? [String: Any], let error = object["error"] as? [String: Any] {
                let code = error["code"] as? String ?? "error"
                let message = error["message"] as? String ?? ""
                let requestID = (error["request_id"] as? String).map { " (request \($0))" } ?? ""
                var error = CLIError("\(response.status.code) \(code): \(message)\(requestID)")
                error.failure = Failure(status: Int(response.status.code), code: code, message: message)
                throw error
            }
            if response.status.code == 429, let object = json as? [String: Any], object["effect"] != nil {
                // A rate-limited decision: the answer is a decision (deny, rate_limited), not an error.
                let wait = response.headers.first(name: "Retry-After").map { ", retry after \($0) s" } ?? ""
                var error = CLIError("429 rate_limited: a rate limit of the tenant, agent or tool is exhausted\(wait)")
                error.failure = Failure(status: 429, code: "rate_limited", message: "rate limited\(wait)")
                throw error
            }
            throw CLIError("server answered \(response.status.code)")
        }
        return (Int(response.status.code), bytes)
    }

    /// Prints an object or list in the chosen format.
    func print(_ value: Any, columns: [String]) {
        switch output {
        case .json:
            let data =
                (try? JSONSerialization.data(withJSONObject: value, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])) ?? Data()
            Swift.print(String(decoding: data, as: UTF8.self))
        case .table:
            let objects: [[String: Any]]
            if let object = value as? [String: Any], let items = object["items"] as? [[String: Any]] {
                objects = items
            } else if let object = value as? [String: Any] {
                objects = [object]
            } else {
                objects = []
            }
            let rows = objects.map { object in columns.map { Table.cell(object[$0]) } }
            Swift.print(Table.render(headers: columns.map { $0.uppercased() }, rows: rows), terminator: "")
        }
    }
}

enum Table {
    static func cell(_ value: Any?) -> String {
        switch value {
        case nil, is NSNull: return "-"
        case let string as String: return string
        case let number as NSNumber: return number.stringValue
        case let array as [Any]: return array.isEmpty ? "-" : array.map { cell($0) }.joined(separator: ",")
        case let object as [String: Any]:
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
            return String(decoding: data, as: UTF8.self)
        default: return "\(value!)"
        }
    }

    static func render(headers: [String], rows: [[String]]) -> String {
        var widths = headers.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                index == cells.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ") + "\n"
        }
        return line(headers) + rows.map(line).joined()
    }
}
