import ArgumentParser
import Foundation
import OnceEngine

struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write every profile of a namespace that matches a filter as JSONL on stdout, in distinct_id order.",
        discussion: """
            Each line: {"distinct_id", "properties", "created_at", "updated_at"}, as GET profile shows it. \
            --where takes a cohort filter (the `where` of POST …/profiles/query). Profiles are read a page \
            at a time, so memory stays bounded whatever the namespace's size.
            """
    )

    @OptionGroup var store: StoreOptions

    @Option(help: "The workspace id.")
    var workspace: String

    @Option(help: "live or test.")
    var version: String

    @Option(name: .customLong("where"), help: "A cohort filter as JSON, e.g. '{\"property\": \"plan\", \"op\": \"eq\", \"value\": \"pro\"}'.")
    var filter: String?

    /// Profiles read per page: one short read transaction each.
    static let pageSize = 1000

    func validate() throws {
        do { _ = try RequestDecoder.namespace(workspace: workspace, version: version) } catch { throw ValidationError(error.message) }
        if let filter {
            do { _ = try JSONParser.parse(Array(filter.utf8)) } catch { throw ValidationError("--where is not JSON: \(error)") }
        }
    }

    func run() async throws {
        let namespace = try RequestDecoder.namespace(workspace: workspace, version: version)
        let filter = try filter.map { try JSONParser.parse(Array($0.utf8)) }
        let engine = Engine(store: try await store.open())
        let output = OutputBuffer(fd: 1)
        let progress = ProgressLine()
        // The next page is read while this one is written out: two pages in memory at most.
        let read = { @Sendable (cursor: String?) in
            Task {
                var members: [JSONObject.Member] = [.init("limit", .integer(Int64(Self.pageSize)))]
                if let filter { members.append(.init("where", filter)) }
                if let cursor { members.append(.init("cursor", .string(cursor))) }
                // A page is short; the limit only stops a filter that cannot finish.
                return try await engine.query(.object(JSONObject(members)), in: namespace, timeout: .seconds(600))
            }
        }
        var next: Task<QueryPage, any Error>? = read(nil)
        var exported = 0
        do {
            while let reading = next {
                let page = try await reading.value
                next = page.nextCursor.map(read)
                for profile in page.profiles { output.writeLine { ProfileJSON.write(profile, to: &$0) } }
                exported += page.profiles.count
                progress.report { rate in "\(exported) profiles, \(rate(exported)) profiles/s" }
            }
        } catch let error as DecodeError {
            try? await engine.close()
            throw ValidationError("--where: \(error.message)")
        }
        output.flush()
        progress.finish()
        try await engine.close()
    }
}
