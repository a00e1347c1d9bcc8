/// The argv form of a batch of commands, laid out for `redisAppendCommandArgv`.
///
/// All argument bytes live in one allocation; `pointers` and `lengths` hold one entry per
/// argument, and command `i` owns entries `starts[i]..<starts[i + 1]`. Arguments are passed
/// with explicit lengths, so they may contain any bytes, NUL included.
struct RedisCommandBuffer: ~Copyable {
    private let storage: UnsafeMutableRawPointer
    private let pointers: UnsafeMutablePointer<UnsafePointer<CChar>?>
    private let lengths: UnsafeMutablePointer<Int>
    private let starts: [Int]

    /// Number of commands in the batch.
    var count: Int { starts.count - 1 }

    /// Lays out `commands`.
    ///
    /// - Throws: ``RedisError/invalidArgument(_:)`` if a command has no arguments or more
    ///   than `Int32.max`.
    init<Command: Collection>(_ commands: some Collection<Command>) throws(RedisError)
    where Command.Element: Collection, Command.Element.Element == UInt8 {
        var starts = [0]
        starts.reserveCapacity(commands.count + 1)
        var totalBytes = 0
        for (index, command) in commands.enumerated() {
            guard !command.isEmpty else {
                throw .invalidArgument("command \(index) of \(commands.count) has no arguments")
            }
            guard Int32(exactly: command.count) != nil else {
                throw .invalidArgument("command \(index) has \(command.count) arguments, more than Int32.max")
            }
            for argument in command {
                totalBytes += argument.count
            }
            starts.append(starts[starts.count - 1] + command.count)
        }
        let argumentCount = starts[starts.count - 1]

        let storage = UnsafeMutableRawPointer.allocate(byteCount: max(totalBytes, 1), alignment: 1)
        let pointers = UnsafeMutablePointer<UnsafePointer<CChar>?>.allocate(capacity: max(argumentCount, 1))
        let lengths = UnsafeMutablePointer<Int>.allocate(capacity: max(argumentCount, 1))
        var offset = 0
        var slot = 0
        for command in commands {
            for argument in command {
                let destination = UnsafeMutableRawBufferPointer(start: storage + offset, count: argument.count)
                destination.copyBytes(from: argument)
                (pointers + slot).initialize(to: UnsafePointer((storage + offset).assumingMemoryBound(to: CChar.self)))
                (lengths + slot).initialize(to: argument.count)
                offset += argument.count
                slot += 1
            }
        }
        self.storage = storage
        self.pointers = pointers
        self.lengths = lengths
        self.starts = starts
    }

    /// Calls `body` with the argc, argv and argvlen of command `index`.
    func withCommand<Result>(
        at index: Int,
        _ body: (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> Result
    ) -> Result {
        let start = starts[index]
        let argc = Int32(truncatingIfNeeded: starts[index + 1] - start)
        return body(argc, pointers + start, UnsafePointer(lengths + start))
    }

    deinit {
        storage.deallocate()
        pointers.deinitialize(count: starts[starts.count - 1])
        pointers.deallocate()
        lengths.deinitialize(count: starts[starts.count - 1])
        lengths.deallocate()
    }
}
