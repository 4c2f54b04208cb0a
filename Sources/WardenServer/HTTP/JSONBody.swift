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

    /// Decodes the request body as `T`, mapping every failure to a 400 or 413 with a clear message.
    static func decode<T: Decodable>(_ type: T.Type, from request: Request, context: WardenRequestContext) async throws -> T {
        guard let value = try await decodeOptional(T.self, from: request, context: context) else {
            throw WardenError(.malformedJSON, "request body must be a JSON object")
        }
        return value
    }

    /// Like `decode`, but an empty body is `nil` instead of an error.
    static func decodeOptional<T: Decodable>(_ type: T.Type, from request: Request, context: WardenRequestContext) async throws -> T? {
        if let length = request.headers[.contentLength].flatMap(Int.init), length > context.maxUploadSize {
            throw WardenError(.payloadTooLarge, "request body is larger than 1 MiB")
        }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: context.maxUploadSize)
        } catch is NIOTooManyBytesError {
            throw WardenError(.payloadTooLarge, "request body is larger than 1 MiB")
        }
        guard buffer.readableBytes > 0 else { return nil }
        return try decode(T.self, from: Data(buffer.readableBytesView))
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
