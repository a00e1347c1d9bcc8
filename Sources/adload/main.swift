import AdLoadCLI
import ArgumentParser
import Foundation
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
            if AdLoad.wantsEventLoopExecutor(command),
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

