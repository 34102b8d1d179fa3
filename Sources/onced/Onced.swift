import ArgumentParser
import Logging

@main
struct Onced: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "onced",
        abstract: "A set-once user-property engine with Lua pre-write rules.",
        subcommands: [Serve.self, Apply.self, Export.self, RulesCommand.self, Keys.self]
    )

    /// Logs go to stderr: stdout carries `apply`'s outcomes.
    static func main() async {
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
