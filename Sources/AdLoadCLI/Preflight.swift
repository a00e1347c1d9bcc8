import Foundation
import Policies
import Simulation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Checks a command makes before any long or stateful work, each failing with one line that
/// says what is wrong and what to do.
enum Preflight {
    /// Refuses a listening address that is already taken, before redis-server is started.
    /// Hosts that are not IPv4 literals are left to the server to bind.
    static func checkPortFree(host: String, port: Int) throws {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host, &address.sin_addr) == 1 else { return }
        let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socketFD >= 0 else { return }
        defer { close(socketFD) }
        var reuse: Int32 = 1
        setsockopt(socketFD, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socketFD, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else {
            let reason = errno == EADDRINUSE ? "is already in use" : "cannot be bound (\(String(cString: strerror(errno))))"
            throw CLIError("--port \(port): \(host):\(port) \(reason); stop what listens there or pass another --port")
        }
    }

    /// Refuses to run `policy` on an environment other than the one it was trained on, unless allowed.
    ///
    /// The policy file records the content fingerprint of its environment file
    /// (`provenance.env_fingerprint`); another fingerprint means other users, dynamics or
    /// rules than the ones it learned (even under the same name), which runs but answers
    /// another question.
    static func checkEnvironment(
        _ policy: any DecisionPolicy, file: String, config: EnvironmentConfig, configPath: String, allowed: Bool
    ) throws {
        let provenance = policy.provenance
        guard provenance.environmentFingerprint != config.fingerprint else { return }
        let trained = "\"\(provenance.environment)\" (\(provenance.environmentFile), \(provenance.environmentFingerprint))"
        let given = "\"\(config.name)\" (\(configPath), \(config.fingerprint))"
        let message = provenance.environment == config.name
            ? "\(file) was trained on environment \(trained); --env \(given) has the same name but other parameters"
            : "\(file) was trained on environment \(trained), not \(given)"
        guard allowed else {
            throw CLIError("\(message); pass the --env it was trained on, or --allow-env-mismatch to run it anyway")
        }
        FileHandle.standardError.write(Data("warning: \(message); running it anyway (--allow-env-mismatch)\n".utf8))
    }
}

/// Keeps one `adload serve` per data folder: an exclusive `flock` on `<data-dir>/serve.lock`,
/// held for the life of the process (the kernel drops it when the process ends, however it
/// ends), with the holder's pid written in the file for the next one to name.
final class DataDirectoryLock {
    let path: String
    let descriptor: Int32

    /// Takes the lock.
    /// - Throws: `CLIError` naming the pid of the `serve` that holds it, or why the file cannot be used.
    init(dataDirectory: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        } catch {
            throw CLIError("--data-dir \(dataDirectory): cannot create the folder (\(error.localizedDescription))")
        }
        path = URL(fileURLWithPath: dataDirectory).appendingPathComponent("serve.lock").path
        descriptor = open(path, O_RDWR | O_CREAT, 0o644)
        guard descriptor >= 0 else {
            throw CLIError("\(path): cannot open the lock file (\(String(cString: strerror(errno))))")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            close(descriptor)
            throw CLIError(
                "--data-dir \(dataDirectory) is in use by another adload serve\(holder.isEmpty ? "" : " (pid \(holder))"); stop it or pass another --data-dir")
        }
        let pid = "\(getpid())\n"
        _ = ftruncate(descriptor, 0)
        _ = pid.withCString { write(descriptor, $0, strlen($0)) }
    }

    deinit {
        close(descriptor)
    }
}
