import Foundation
import HTTPTypes
public import Hummingbird
import Logging
import NIOCore
import WardenCore

/// Turns every error into Warden's JSON error body with the right status, and stamps the request id
/// on every response. Unknown errors become a bare `500 internal_error`: the details go to the log
/// (without secrets), never to the client.
public struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let requestID = context.id
        do {
            var response = try await next(request, context)
            response.headers[.requestID] = requestID
            return response
        } catch {
            let (status, code, message) = Self.describe(error, logger: context.logger)
            let details = (error as? WardenError)?.details ?? [:]
            var response = ErrorBody.response(status: status, code: code, message: message, requestID: requestID, details: details)
            if let error = error as? HTTPError {
                for field in error.headers where field.name != .contentLength && field.name != .contentType {
                    response.headers.append(field)
                }
            }
            return response
        }
    }

    static func describe(_ error: any Error, logger: Logger) -> (HTTPResponse.Status, String, String) {
        switch error {
        case let error as WardenError:
            if error.code.isInternal || error.code.isUnavailable {
                logger.error("http.request_failed", metadata: ["error.code": "\(error.code.name)", "error.message": "\(error.message)"])
            }
            return (status(for: error.code), error.code.name, error.message)
        case is NIOTooManyBytesError:
            return (.contentTooLarge, WardenError.Code.payloadTooLarge.name, "request body is larger than 1 MiB")
        case let error as HTTPError:
            return (error.status, code(for: error.status), error.body ?? error.status.reasonPhrase)
        default:
            logger.error("http.request_failed", metadata: ["error.type": "\(String(reflecting: type(of: error)))"])
            return (.internalServerError, WardenError.Code.internalError.name, "internal error; quote the request id when reporting it")
        }
    }

    static func status(for code: WardenError.Code) -> HTTPResponse.Status {
        if code.isBadRequest { return .badRequest }
        if code.isUnauthenticated { return .unauthorized }
        if code.isForbidden { return .forbidden }
        if code.isNotFound { return .notFound }
        if code.isConflict { return .conflict }
        if code.isPayloadTooLarge { return .contentTooLarge }
        if code.isUnprocessable { return .unprocessableContent }
        if code.isUnavailable { return .serviceUnavailable }
        return .internalServerError
    }

    static func code(for status: HTTPResponse.Status) -> String {
        switch status.code {
        case 400: "invalid_request"
        case 401: "unauthenticated"
        case 403: "forbidden"
        case 404: "not_found"
        case 405: "method_not_allowed"
        case 413: "payload_too_large"
        case 415: "unsupported_media_type"
        case 429: "rate_limited"
        case 503: "unavailable"
        default: status.code >= 500 ? "internal_error" : "http_\(status.code)"
        }
    }
}

/// `{"error": {"code": …, "message": …, "request_id": …}}`
struct ErrorBody: Encodable {
    struct Detail: Encodable {
        var code: String
        var message: String
        var requestID: String
        /// Structured facts, such as an invalid policy's `file`, `line` and `column`; left out when empty.
        var details: [String: JSONValue]?

        enum CodingKeys: String, CodingKey {
            case code, message, details
            case requestID = "request_id"
        }
    }

    var error: Detail

    static func response(
        status: HTTPResponse.Status, code: String, message: String, requestID: String, details: [String: JSONValue] = [:]
    ) -> Response {
        let body = ErrorBody(error: Detail(code: code, message: message, requestID: requestID, details: details.isEmpty ? nil : details))
        var response = JSONBody.response(status: status, body)
        response.headers[.requestID] = requestID
        if status == .unauthorized { response.headers[.wwwAuthenticate] = "Bearer" }
        return response
    }
}

extension HTTPField.Name {
    static var requestID: Self { Self("X-Request-Id")! }
}
