import ArgumentParser
import OnceEngine

struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Manage API keys.", subcommands: [Create.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an API key for a workspace; print it once. Only its hash is stored.")

        @Argument(help: "The workspace the key belongs to.")
        var workspace: String

        @OptionGroup var store: StoreOptions

        func run() async throws {
            do {
                _ = try RequestDecoder.namespace(workspace: workspace, version: "live")
            } catch {
                throw ValidationError(error.message)
            }
            let keys = try await store.open()
            let key = APIKey.generate()
            try await keys.addKey(hash: APIKey.hash(key), workspace: workspace)
            try await keys.close()
            print(key)
        }
    }
}
