import ArgumentParser
import Foundation
import OnceEngine

struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Manage API keys.", subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an API key for a workspace; print it once, then its id. Only its hash is stored.")

        @Argument(help: "The workspace the key belongs to.")
        var workspace: String

        @OptionGroup var store: StoreOptions

        func run() async throws {
            try checkWorkspace(workspace)
            let keys = try await store.open()
            let key = APIKey.generate(), id = APIKey.newID()
            try await keys.addKey(id: id, hash: APIKey.hash(key), workspace: workspace)
            try await keys.close()
            print(key)
            print(id)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List a workspace's keys: id, creation time, and revocation time if revoked. Never a key.")

        @Argument(help: "The workspace whose keys to list.")
        var workspace: String

        @OptionGroup var store: StoreOptions

        func run() async throws {
            try checkWorkspace(workspace)
            let keys = try await store.open()
            let listed = try await keys.keys(in: workspace)
            try await keys.close()
            for key in listed {
                print([key.id, "created", ProfileJSON.timestamp(key.createdAt)].joined(separator: " ")
                      + (key.revokedAt.map { " revoked \(ProfileJSON.timestamp($0))" } ?? ""))
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a key by its id; every process refuses it within 5 seconds.")

        @Argument(help: "The key's id (key_…), as `keys create` and `keys list` print it.")
        var keyID: String

        @OptionGroup var store: StoreOptions

        func run() async throws {
            let keys = try await store.open()
            let revoked = try await keys.revokeKey(id: keyID)
            try await keys.close()
            guard let revoked, let at = revoked.revokedAt else {
                printError("onced keys revoke: no key has the id \(keyID)")
                throw ExitCode.failure
            }
            print("revoked \(revoked.id) of \(revoked.workspace) at \(ProfileJSON.timestamp(at))")
        }
    }
}

private func checkWorkspace(_ workspace: String) throws {
    do {
        _ = try RequestDecoder.namespace(workspace: workspace, version: "live")
    } catch {
        throw ValidationError(error.message)
    }
}
