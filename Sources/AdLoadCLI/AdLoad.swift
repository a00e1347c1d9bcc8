import ArgumentParser
import Foundation
import LinearAlgebra

/// The `adload` command and its subcommands: the executable parses with it, tests call it directly.
package struct AdLoad: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "adload",
        abstract: "Decides how many ads each feed session gets, and where, and learns it from users.",
        subcommands: [Serve.self, Learn.self, Replay.self, Simulate.self, Train.self, Evaluate.self, Export.self, PolicyCommand.self, EnvCommand.self, Bench.self]
    )

    package init() {}

    /// Whether `command` is a `serve` with Redis I/O on the event loops, which needs NIO's
    /// event loops installed as Swift's global executor before any task runs.
    package static func wantsEventLoopExecutor(_ command: any ParsableCommand) -> Bool {
        (command as? Serve)?.usesEventLoopIO ?? false
    }
}

/// Pins OpenBLAS to one thread: the learners make many small calls, where its threading
/// only adds overhead, and the simulator already runs one worker per core.
func prepareLinearAlgebra() {
    configureSingleThreadedBLAS()
}

/// Writes a line to standard output at once (unbuffered), so progress reaches a pipe or a
/// log file as it happens; long-running commands use it instead of `print`.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
