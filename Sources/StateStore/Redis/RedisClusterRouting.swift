/// Where Redis Cluster keeps a key, and which key of a command decides it.
enum RedisClusterRouting {
    /// The number of hash slots of a cluster.
    static let slotCount = 16_384

    /// The key's hash slot: CRC16 (XMODEM) of the key, or of its hash tag (the bytes between
    /// the first `{` and the next `}`, when that is not empty), modulo 16384.
    static func slot(of key: some Collection<UInt8>) -> Int {
        var bytes = key[...]
        if let open = key.firstIndex(of: UInt8(ascii: "{")) {
            let afterOpen = key.index(after: open)
            if let close = key[afterOpen...].firstIndex(of: UInt8(ascii: "}")), close != afterOpen {
                bytes = key[afterOpen..<close]
            }
        }
        var crc: UInt16 = 0
        for byte in bytes {
            crc = (crc << 8) ^ crcTable[Int(UInt8(truncatingIfNeeded: crc >> 8) ^ byte)]
        }
        return Int(crc) % slotCount
    }

    /// The key a command is routed by, or `nil` for a command without one (`PING`,
    /// `SCRIPT LOAD`): the first key of `EVAL`/`EVALSHA` (none when `numkeys` is 0), the
    /// first stream of `XREADGROUP`/`XREAD`, the key of `XGROUP` subcommands, else the
    /// first argument.
    static func key(of command: [[UInt8]]) -> [UInt8]? {
        guard let name = command.first else { return nil }
        switch String(decoding: name, as: UTF8.self).uppercased() {
        case "PING", "SCRIPT", "CLUSTER", "ASKING", "INFO", "AUTH", "SELECT", "HELLO", "CLIENT", "ACL", "READONLY":
            return nil
        case "EVAL", "EVALSHA":
            guard command.count > 3, let count = Int(String(decoding: command[2], as: UTF8.self)), count > 0 else { return nil }
            return command[3]
        case "XREADGROUP", "XREAD":
            guard let streams = command.firstIndex(where: { String(decoding: $0, as: UTF8.self).uppercased() == "STREAMS" }),
                  streams + 1 < command.count else { return nil }
            return command[streams + 1]
        case "XGROUP", "XINFO":
            return command.count > 2 ? command[2] : nil
        default:
            return command.count > 1 ? command[1] : nil
        }
    }

    /// The one slot `commands` touch, `nil` when none has a key.
    /// - Throws: ``StoreError/failed(_:)`` when keys of two slots meet in one request (a
    ///   cluster cannot run them together).
    static func slot(of commands: [[[UInt8]]]) throws(StoreError) -> Int? {
        var found: (slot: Int, key: [UInt8])?
        for command in commands {
            guard let key = key(of: command) else { continue }
            let slot = slot(of: key)
            if let found, found.slot != slot {
                throw .failed(
                    "CROSSSLOT: one request touches \(String(decoding: found.key, as: UTF8.self)) (slot \(found.slot)) and "
                        + "\(String(decoding: key, as: UTF8.self)) (slot \(slot)), which Redis Cluster cannot serve together")
            }
            found = (slot, key)
        }
        return found?.slot
    }

    /// A redirection in an error reply: `MOVED <slot> <host>:<port>` (the slot lives there
    /// now) or `ASK <slot> <host>:<port>` (this one key is being migrated there).
    enum Redirection: Equatable {
        case moved(slot: Int, to: RedisAddress)
        case ask(slot: Int, to: RedisAddress)
    }

    /// Reads a `MOVED` or `ASK` error, `nil` for any other reply.
    static func redirection(in reply: RedisReply, template: RedisAddress) -> Redirection? {
        guard let message = reply.errorMessage else { return nil }
        let parts = message.split(separator: " ")
        guard parts.count == 3, parts[0] == "MOVED" || parts[0] == "ASK", let slot = Int(parts[1]),
              let colon = parts[2].lastIndex(of: ":"), let port = Int(parts[2][parts[2].index(after: colon)...])
        else { return nil }
        var address = template
        let host = String(parts[2][..<colon])
        address.host = host.isEmpty ? template.host : host
        address.port = port
        return parts[0] == "MOVED" ? .moved(slot: slot, to: address) : .ask(slot: slot, to: address)
    }

    /// CRC16-CCITT (XMODEM: polynomial 0x1021, initial value 0), as Redis Cluster uses.
    static let crcTable: [UInt16] = (0..<256).map { index in
        var crc = UInt16(index) << 8
        for _ in 0..<8 {
            crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1
        }
        return crc
    }
}
