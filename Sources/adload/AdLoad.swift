import ArgumentParser
import Foundation
import LinearAlgebra
import NIOCore
import NIOPosix

/// The entry point: parses the command line on the main thread and, for `serve` with Redis
/// I/O on the event loops, installs SwiftNIO's event loops as Swift's global executor
/// before any task runs (NIO requires the main thread and no concurrency work yet).
@main
enum Main {
    static func main() async {
        do {
            var command = try AdLoad.parseAsRoot()
            if let serve = command as? Serve, serve.usesEventLoopIO,
                !NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
            {
                FileHandle.standardError.write(Data(
                    "adload serve: could not install the event loops as Swift's executor; handlers run on the default pool\n".utf8))
            }
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            AdLoad.exit(withError: error)
        }
    }
}

struct AdLoad: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "adload",
        abstract: "Decides how many ads each feed session gets, and where, and learns it from users.",
        subcommands: [Serve.self, Learn.self, Replay.self, Simulate.self, Train.self, Evaluate.self, Bench.self]
    )
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
