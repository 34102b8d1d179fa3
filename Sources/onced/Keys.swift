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
            let sqlite = try store.openSQLite()
            let key = APIKey.generate()
            try await sqlite.addKey(hash: APIKey.hash(key), workspace: workspace)
            try await sqlite.close()
            print(key)
        }
    }
}
