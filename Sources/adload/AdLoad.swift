import ArgumentParser
import LinearAlgebra

@main
struct AdLoad: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "adload",
        abstract: "Decides how many ads each feed session gets, and where, and learns it from users.",
        subcommands: [Simulate.self, Train.self, Evaluate.self, Replay.self, Bench.self]
    )
}

/// Pins OpenBLAS to one thread: the learners make many small calls, where its threading
/// only adds overhead, and the simulator already runs one worker per core.
func prepareLinearAlgebra() {
    configureSingleThreadedBLAS()
}
