public import Foundation
public import Logging
import Synchronization

/// Writes one JSON object per line: `{"ts":…,"level":…,"event":…,"logger":…, metadata…}`.
/// The message is the stable event name (`control_plane.startup`); facts go in metadata.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    public var metadataProvider: Logger.MetadataProvider?
    let label: String
    let sink: Sink

    /// Where lines go. Shared by every handler made by one factory, so lines never interleave.
    public final class Sink: Sendable {
        private let lock = Mutex(())
        private let write: @Sendable (Data) -> Void

        public init(write: @escaping @Sendable (Data) -> Void) {
            self.write = write
        }

        public static let standardOutput = Sink { FileHandle.standardOutput.write($0) }

        func emit(_ line: Data) {
            lock.withLock { _ in write(line) }
        }
    }

    public init(label: String, level: Logger.Level, sink: Sink = .standardOutput, metadataProvider: Logger.MetadataProvider? = nil) {
        self.label = label
        self.logLevel = level
        self.sink = sink
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        var object: [String: Any] = [:]
        for (key, value) in merged { object[key] = Self.json(value) }
        object["ts"] = Self.timestamp()
        object["level"] = event.level.rawValue
        object["event"] = event.message.description
        object["logger"] = label
        guard var data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
        data.append(UInt8(ascii: "\n"))
        sink.emit(data)
    }

    static func json(_ value: Logger.Metadata.Value) -> Any {
        switch value {
        case .string(let string): string
        case .stringConvertible(let convertible): convertible.description
        case .array(let array): array.map(json)
        case .dictionary(let dictionary): dictionary.mapValues(json)
        }
    }

    static func timestamp() -> String {
        Date().formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
    }
}
