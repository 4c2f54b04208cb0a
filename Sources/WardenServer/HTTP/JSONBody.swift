import Foundation
import Hummingbird
import NIOCore
import WardenCore

/// JSON in and out, with errors that name the field at fault.
enum JSONBody {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    static func response(status: HTTPResponse.Status, _ value: some Encodable) -> Response {
        // Encoding our own response types cannot fail; if it ever did, say so plainly.
        let data = (try? encoder.encode(value)) ?? Data(#"{"error":{"code":"internal_error","message":"response encoding failed"}}"#.utf8)
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        headers[.contentLength] = String(data.count)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// A JSON document as the body, written by `JSONValue`'s own writer (sorted keys, compact), which
    /// costs a fraction of `JSONEncoder`'s time; the decision path answers with it.
    static func response(status: HTTPResponse.Status, _ value: JSONValue) -> Response {
        let bytes = value.canonicalBytes
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        headers[.contentLength] = String(bytes.count)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// The request body as a JSON document, read by the strict hand-written parser (the decision
    /// path's reader); `nil` for an empty body. Errors say where the text stops being JSON.
    static func document(from request: Request, context: WardenRequestContext) async throws -> JSONValue? {
        let buffer = try await collect(request, context: context)
        guard buffer.readableBytes > 0 else { return nil }
        do {
            return try buffer.withUnsafeReadableBytes { bytes throws(JSONParseError) in try JSONValue.parse(bytes: bytes) }
        } catch {
            throw WardenError(.malformedJSON, "request body is not valid JSON: \(error)")
        }
    }

    /// Decodes the request body as `T`, mapping every failure to a 400 or 413 with a clear message.
    static func decode<T: Decodable>(_ type: T.Type, from request: Request, context: WardenRequestContext) async throws -> T {
        guard let value = try await decodeOptional(T.self, from: request, context: context) else {
            throw WardenError(.malformedJSON, "request body must be a JSON object")
        }
        return value
    }

    /// Like `decode`, but an empty body is `nil` instead of an error.
    static func decodeOptional<T: Decodable>(_ type: T.Type, from request: Request, context: WardenRequestContext) async throws -> T? {
        let buffer = try await collect(request, context: context)
        guard buffer.readableBytes > 0 else { return nil }
        return try decode(T.self, from: Data(buffer.readableBytesView))
    }

    private static func collect(_ request: Request, context: WardenRequestContext) async throws -> ByteBuffer {
        if let length = request.headers[.contentLength].flatMap(Int.init), length > context.maxUploadSize {
            throw WardenError(.payloadTooLarge, "request body is larger than 1 MiB")
        }
        do {
            return try await request.body.collect(upTo: context.maxUploadSize)
        } catch is NIOTooManyBytesError {
            throw WardenError(.payloadTooLarge, "request body is larger than 1 MiB")
        }
    }

    static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch let error as DecodingError {
            throw describe(error)
        }
    }

    static func describe(_ error: DecodingError) -> WardenError {
        func path(_ codingPath: [any CodingKey], _ last: (any CodingKey)? = nil) -> String {
            let keys = codingPath + (last.map { [$0] } ?? [])
            return keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context):
            return WardenError(.missingField, "missing required field '\(path(context.codingPath, key))'")
        case .valueNotFound(_, let context):
            return WardenError(.missingField, "field '\(path(context.codingPath))' must not be null")
        case .typeMismatch(let type, let context):
            if context.codingPath.isEmpty { return WardenError(.malformedJSON, "request body must be a JSON object") }
            return WardenError(.invalidField, "field '\(path(context.codingPath))' must be \(describe(type))")
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty { return WardenError(.malformedJSON, "request body is not valid JSON") }
            return WardenError(.invalidField, "field '\(path(context.codingPath))' is invalid")
        @unknown default:
            return WardenError(.malformedJSON, "request body is not valid JSON")
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type, is Double.Type: "a number"
        case is Bool.Type: "a boolean"
        default: "of a different type"
        }
    }
}

extension Request {
    /// A query parameter, or `nil` when absent.
    func query(_ name: String) -> String? {
        uri.queryParameters.get(name)
    }
}

/// Reads the fields of a request body parsed by `JSONBody.document`, with the same errors as the
/// `Decodable` path: missing fields, nulls where a value is required, and wrong types name the field.
struct JSONFields {
    let fields: [String: JSONValue]

    init(_ document: JSONValue?) throws {
        guard case .object(let fields)? = document else { throw WardenError(.malformedJSON, "request body must be a JSON object") }
        self.fields = fields
    }

    func string(_ key: String) throws -> String {
        switch fields[key] {
        case nil: throw WardenError(.missingField, "missing required field '\(key)'")
        case .null?: throw WardenError(.missingField, "field '\(key)' must not be null")
        case .string(let text)?: return text
        default: throw WardenError(.invalidField, "field '\(key)' must be a string")
        }
    }

    func optionalString(_ key: String) throws -> String? {
        switch fields[key] {
        case nil, .null?: return nil
        case .string(let text)?: return text
        default: throw WardenError(.invalidField, "field '\(key)' must be a string")
        }
    }

    func optionalNumber(_ key: String) throws -> Double? {
        switch fields[key] {
        case nil, .null?: return nil
        case .int(let value)?: return Double(value)
        case .double(let value)?: return value
        default: throw WardenError(.invalidField, "field '\(key)' must be a number")
        }
    }

    func optionalInt(_ key: String) throws -> Int? {
        switch fields[key] {
        case nil, .null?: return nil
        case .int(let value)? where value >= Int64(Int.min) && value <= Int64(Int.max): return Int(value)
        default: throw WardenError(.invalidField, "field '\(key)' must be a whole number")
        }
    }

    /// Any JSON value; `null` reads as absent.
    func optionalValue(_ key: String) -> JSONValue? {
        switch fields[key] {
        case nil, .null?: nil
        case let value?: value
        }
    }
}
