import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import WardenCore

/// `GET /v1/tenants/{tenant}/events`: Server-Sent Events of tool state changes.
///
/// Resumable: with `Last-Event-ID` (or `?after=`) the stream first replays every later event from the
/// database, then follows live ones. It subscribes before replaying, so nothing committed in between
/// is missed, and skips what the replay already sent. A comment line (`: heartbeat`) keeps idle
/// connections open. A follower that falls too far behind is disconnected and resumes.
struct EventController {
    let scope: TenantScope
    let store: any Store
    let hub: EventHub
    let heartbeat: Duration

    func addRoutes(to group: RouterGroup<WardenRequestContext>) {
        group.get("/tenants/{tenant}/events", use: stream)
    }

    enum Item: Sendable {
        case event(TenantEvent)
        case heartbeat
    }

    @Sendable func stream(_ request: Request, context: WardenRequestContext) async throws -> Response {
        let (tenant, _) = try await scope.tenantForAgentOrKey(context, .readTools)
        let resumeText = request.headers[HTTPField.Name("Last-Event-ID")!] ?? request.query("after")
        var resumeAfter: Int64 = 0
        if let resumeText {
            guard let value = Int64(resumeText.trimmingCharacters(in: CharacterSet.whitespaces)), value >= 0 else {
                throw WardenError(.invalidField, "Last-Event-ID must be a non-negative event id")
            }
            resumeAfter = value
        }
        let after = resumeAfter
        guard let subscription = hub.subscribe(tenantID: tenant.id) else {
            throw WardenError(.databaseUnavailable, "the server is shutting down")
        }
        let store = self.store
        let heartbeat = self.heartbeat
        let logger = context.logger
        let slug = tenant.slug
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream; charset=utf-8"
        headers[.cacheControl] = "no-cache"
        headers[HTTPField.Name("X-Accel-Buffering")!] = "no"
        let body = ResponseBody { writer in
            let (items, feed) = AsyncStream.makeStream(of: Item.self, bufferingPolicy: .unbounded)
            try await withGracefulShutdownHandler {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for await event in subscription.events { feed.yield(.event(event)) }
                        feed.finish()
                    }
                    group.addTask {
                        while !Task.isCancelled {
                            try await Task.sleep(for: heartbeat)
                            feed.yield(.heartbeat)
                        }
                    }
                    var last = after
                    try await writer.write(ByteBuffer(string: "retry: 2000\n\n"))
                    // Replay what the follower missed, in pages.
                    while true {
                        let tenantID = subscription.tenantID
                        let from = last
                        let page = try await store.read { try await $0.events.list(tenantID: tenantID, after: from, limit: 500) }
                        for event in page {
                            try await writer.write(Self.frame(event, slug: slug))
                            last = event.sequence
                        }
                        if page.count < 500 { break }
                    }
                    for await item in items {
                        switch item {
                        case .event(let event) where event.sequence > last:
                            // Changes commit in sequence order but may be published out of order; fill
                            // a gap from the database so no event is skipped.
                            if event.sequence > last + 1 {
                                let tenantID = subscription.tenantID
                                let from = last
                                let missed = try await store.read {
                                    try await $0.events.list(tenantID: tenantID, after: from, limit: Int(event.sequence - from - 1))
                                }
                                for earlier in missed where earlier.sequence > last && earlier.sequence < event.sequence {
                                    try await writer.write(Self.frame(earlier, slug: slug))
                                    last = earlier.sequence
                                }
                            }
                            try await writer.write(Self.frame(event, slug: slug))
                            last = event.sequence
                        case .event:
                            continue
                        case .heartbeat:
                            try await writer.write(ByteBuffer(string: ": heartbeat\n\n"))
                        }
                    }
                    group.cancelAll()
                }
            } onGracefulShutdown: {
                feed.finish()
            }
            logger.debug("events.stream_closed", metadata: ["tenant": "\(slug)"])
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: headers, body: body)
    }

    static func frame(_ event: TenantEvent, slug: String) -> ByteBuffer {
        let data = Render.event(event, tenantSlug: slug).canonicalText
        return ByteBuffer(string: "id: \(event.sequence)\nevent: \(event.type)\ndata: \(data)\n\n")
    }
}
