import CZlib
import Dispatch
import Foundation
import Synchronization

/// A block of whole lines of a decision log, read as one piece so a worker can split and
/// parse it while the reader goes on.
package struct LogBatch: Sendable {
    /// The file the lines come from.
    package let path: String
    /// Whole lines, each ending in a newline except perhaps the file's last.
    package var bytes: [UInt8]

    /// Calls `body` with each non-blank line (without its newline) and its 1-based number
    /// within the block, stopping at the first error. Returns the number of lines in the block.
    @discardableResult
    package func forEachLine(_ body: (UnsafeRawBufferPointer, Int) throws(DecisionLogError) -> Void) throws(DecisionLogError) -> Int {
        var failure: DecisionLogError?
        let lines = bytes.withUnsafeBytes { all -> Int in
            guard let base = all.baseAddress else { return 0 }
            var start = 0
            var number = 0
            while start < all.count {
                let end = memchr(base + start, 0x0A, all.count - start).map { base.distance(to: UnsafeRawPointer($0)) } ?? all.count
                number += 1
                let line = UnsafeRawBufferPointer(rebasing: all[start..<end])
                if !line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) {
                    do throws(DecisionLogError) { try body(line, number) } catch {
                        failure = error
                        return number
                    }
                }
                start = end + 1
            }
            return number
        }
        if let failure { throw failure }
        return lines
    }
}

/// Reads a decision log (JSON Lines) as blocks of whole lines of about ``blockSize`` bytes,
/// with memory bounded by the blocks in flight, whatever the log's size.
///
/// Block boundaries depend only on the file and ``blockSize`` (a block ends after the last
/// newline of its bytes), so sums computed per block and combined in block order do not
/// depend on how many threads parse the blocks.
package struct DecisionLogBatches {
    /// Bytes per block read (4 MiB).
    package static let defaultBlockSize = 1 << 22
    /// The longest line read (64 MiB); a decision is a few KB.
    static let maxLineLength = 1 << 26
    let path: String
    /// Where the bytes come from: the file, or zlib decompressing it.
    enum Source {
        case plain(FileHandle)
        case gzip(gzFile)
    }
    let source: Source
    let blockSize: Int
    /// Bytes after the last newline of the previous block.
    var carry: [UInt8] = []
    /// Storage of finished blocks, reused by the next ones.
    var spare: [[UInt8]] = []
    var endOfFile = false
    /// Bytes of the file read so far, compressed bytes for a gzip file (for progress).
    package private(set) var bytesRead = 0

    /// Opens `path`; a name ending in `.gz` is decompressed as it is read (gzip, several
    /// members allowed, as `cat a.gz b.gz` makes).
    /// - Throws: ``DecisionLogError/cannotRead(path:)``.
    package init(path: String, blockSize: Int = defaultBlockSize) throws(DecisionLogError) {
        if path.hasSuffix(".gz") {
            guard FileManager.default.isReadableFile(atPath: path), let file = gzopen(path, "rb") else { throw .cannotRead(path: path) }
            gzbuffer(file, 1 << 17)
            source = .gzip(file)
        } else {
            guard let handle = FileHandle(forReadingAtPath: path) else { throw .cannotRead(path: path) }
            source = .plain(handle)
        }
        self.path = path
        self.blockSize = blockSize
    }

    /// Reads up to `count` bytes into `destination`: the number read, 0 at the end.
    /// - Throws: ``DecisionLogError/cannotRead(path:)``, or ``DecisionLogError/unreadable(path:problem:)``
    ///   naming zlib's complaint about a corrupt gzip stream.
    mutating func read(into destination: UnsafeMutableRawPointer, count: Int) throws(DecisionLogError) -> Int {
        switch source {
        case let .plain(handle):
            let got = Glibc.read(handle.fileDescriptor, destination, count)
            guard got >= 0 else { throw .cannotRead(path: path) }
            bytesRead += got
            return got
        case let .gzip(file):
            let got = Int(gzread(file, destination, UInt32(count)))
            guard got >= 0 else {
                var code: Int32 = 0
                let message = gzerror(file, &code).map { String(cString: $0) } ?? "unknown error"
                throw .unreadable(path: path, problem: "not a readable gzip file (\(message))")
            }
            bytesRead = Int(gzoffset(file))
            if got == 0 {
                // gzread returns 0 at a clean end and at a truncated one; zlib tells them apart.
                var code: Int32 = 0
                let message = gzerror(file, &code).map { String(cString: $0) } ?? "unknown error"
                if code != Z_OK { throw .unreadable(path: path, problem: "a truncated or corrupt gzip file (\(message))") }
            }
            return got
        }
    }

    /// Closes the file (at its end).
    func close() {
        switch source {
        case let .plain(handle): try? handle.close()
        case let .gzip(file): gzclose(file)
        }
    }

    /// The next block, or `nil` at the end of the file.
    /// - Throws: ``DecisionLogError/cannotRead(path:)`` when a read fails.
    package mutating func next() throws(DecisionLogError) -> LogBatch? {
        while !endOfFile {
            var bytes = spare.popLast() ?? []
            bytes.removeAll(keepingCapacity: true)
            bytes.append(contentsOf: carry)
            carry.removeAll(keepingCapacity: true)
            var wanted = blockSize
            while wanted > 0 {
                let start = bytes.count
                bytes.append(contentsOf: repeatElement(0, count: wanted))
                var failure: DecisionLogError?
                let got = bytes.withUnsafeMutableBytes { buffer -> Int in
                    do throws(DecisionLogError) { return try read(into: buffer.baseAddress! + start, count: wanted) } catch {
                        failure = error
                        return 0
                    }
                }
                if let failure { throw failure }
                bytes.removeLast(wanted - got)
                if got == 0 {
                    endOfFile = true
                    close()
                    break
                }
                wanted -= got
            }
            if endOfFile { return bytes.isEmpty ? nil : LogBatch(path: path, bytes: bytes) }
            guard let lastNewline = bytes.lastIndex(of: 0x0A) else {
                // One line longer than a block: keep reading until it ends, up to a limit.
                guard bytes.count < Self.maxLineLength else {
                    throw .unreadable(path: path, problem: "a line longer than \(Self.maxLineLength >> 20) MiB: not a decision log of one decision per line")
                }
                carry = bytes
                continue
            }
            carry.append(contentsOf: bytes[(lastNewline + 1)...])
            bytes.removeSubrange((lastNewline + 1)...)
            return LogBatch(path: path, bytes: bytes)
        }
        return nil
    }

    /// Gives the storage of blocks that are done with back, so the next blocks reuse it
    /// instead of faulting in fresh pages.
    package mutating func recycle(_ batches: [LogBatch]) {
        for batch in batches where spare.count < 64 { spare.append(batch.bytes) }
    }
}

extension DecisionLogBatches {
    /// Reads the logs at `paths` in order as blocks, lets `threads` workers process each
    /// round of blocks (two per worker; each worker makes its state with `makeWorker`), and
    /// hands every block's output to `combine` in log order, so what is combined does not
    /// depend on the thread count. `work` gets the block and its index in the whole run and
    /// numbers its `badRecord` lines within the block; they come out as lines of the file.
    /// - Parameter afterRound: Called after each round with the bytes of the logs read so far.
    package static func forEachBlock<Worker, Output: Sendable>(
        paths: [String], threads: Int, makeWorker: @Sendable () -> Worker,
        work: @Sendable (inout Worker, LogBatch, _ block: UInt64) throws(DecisionLogError) -> (output: Output, lines: Int),
        combine: (Output) -> Void, afterRound: (_ bytes: Int) -> Void
    ) throws(DecisionLogError) {
        let workers = max(1, threads)
        var bytesBefore = 0
        var blockIndex: UInt64 = 0
        for path in paths {
            var reader = try DecisionLogBatches(path: path)
            var linesBefore = 0
            var finished = false
            while !finished {
                var round: [LogBatch] = []
                while round.count < workers * 2 {
                    guard let batch = try reader.next() else {
                        finished = true
                        break
                    }
                    round.append(batch)
                }
                if round.isEmpty { break }
                let results = Mutex([Result<(output: Output, lines: Int), DecisionLogError>?](repeating: nil, count: round.count))
                let batches = round
                let firstBlock = blockIndex
                defer { reader.recycle(batches) }
                DispatchQueue.concurrentPerform(iterations: min(workers, batches.count)) { worker in
                    var state = makeWorker()
                    for index in stride(from: worker, to: batches.count, by: workers) {
                        let result: Result<(output: Output, lines: Int), DecisionLogError>
                        do throws(DecisionLogError) {
                            result = .success(try work(&state, batches[index], firstBlock + UInt64(index)))
                        } catch {
                            result = .failure(error)
                        }
                        results.withLock { $0[index] = result }
                    }
                }
                blockIndex += UInt64(round.count)
                for result in results.withLock({ $0 }) {
                    switch result {
                    case let .success(done)?:
                        combine(done.output)
                        linesBefore += done.lines
                    case let .failure(error)?:
                        if case let .badRecord(path, line, problem) = error { throw .badRecord(path: path, line: linesBefore + line, problem: problem) }
                        throw error
                    case nil: preconditionFailure("a block was not processed")
                    }
                }
                afterRound(bytesBefore + reader.bytesRead)
            }
            bytesBefore += reader.bytesRead
        }
    }
}
