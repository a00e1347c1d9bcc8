import ArgumentParser

@main
struct AdLoad: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "adload",
        abstract: "Decides how many ads each feed session gets, and where, and learns it from users.",
        subcommands: [Simulate.self, Train.self, Evaluate.self, Bench.self]
    )
}
