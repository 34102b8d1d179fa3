import ArgumentParser

@main
struct Onced: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "onced",
        abstract: "A set-once user-property engine with Lua pre-write rules.",
        subcommands: [Apply.self]
    )
}
