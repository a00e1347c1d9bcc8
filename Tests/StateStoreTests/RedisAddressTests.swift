@testable import StateStore
import Testing

@Suite("RedisAddress parsing")
struct RedisAddressTests {
    @Test(
        "valid URLs parse into their parts",
        arguments: [
            ("redis://127.0.0.1:6379/0", RedisAddress(host: "127.0.0.1", port: 6379, database: 0)),
            ("redis://localhost", RedisAddress(host: "localhost")),
            ("redis://localhost/", RedisAddress(host: "localhost")),
            ("REDIS://Cache.Internal:7000/15", RedisAddress(host: "Cache.Internal", port: 7000, database: 15)),
            ("redis://:secret@cache:7000/2", RedisAddress(host: "cache", port: 7000, database: 2, password: "secret")),
            ("redis://alice:p%40ss%2Fw%C3%B6rd@h:1/3", RedisAddress(host: "h", port: 1, database: 3, username: "alice", password: "p@ss/wörd")),
            ("redis://:pa/ss?@word@h/4", RedisAddress(host: "h", database: 4, password: "pa/ss?@word")),
            ("redis://@h:65535", RedisAddress(host: "h", port: 65535)),
            ("redis://[::1]:6380/1", RedisAddress(host: "::1", port: 6380, database: 1)),
            ("redis://[::1]", RedisAddress(host: "::1")),
        ]
    )
    func parsesValid(url: String, expected: RedisAddress) throws {
        #expect(try RedisAddress(parsing: url) == expected)
    }

    @Test(
        "invalid URLs name the bad part",
        arguments: [
            ("localhost:6379", RedisAddressError.Part.scheme),
            ("http://h:1", .scheme),
            ("rediss://h", .scheme),
            ("redis://", .host),
            ("redis://:6379", .host),
            ("redis://h ost", .host),
            ("redis://[::1", .host),
            ("redis://[::1]6379", .host),
            ("redis://h:", .port),
            ("redis://h:0", .port),
            ("redis://h:65536", .port),
            ("redis://h:abc", .port),
            ("redis://h:+12", .port),
            ("redis://h:1:2", .port),
            ("redis://h:1/x", .database),
            ("redis://h:1/-1", .database),
            ("redis://h:1/1/2", .database),
            ("redis://h:1/99999999999", .database),
            ("redis://h?db=1", .query),
            ("redis://h/1#top", .query),
            ("redis://alice@h", .username),
            ("redis://alice:@h", .password),
            ("redis://:%zz@h", .password),
            ("redis://%4@h", .username),
        ]
    )
    func rejectsInvalid(url: String, part: RedisAddressError.Part) {
        let error = #expect(throws: RedisAddressError.self) { try RedisAddress(parsing: url) }
        #expect(error?.part == part, "\(url): \(String(describing: error))")
        #expect(error?.description.contains("bad \(part.rawValue)") == true)
    }

    @Test("error messages name the offending value and the expected form")
    func errorMessage() {
        let error = #expect(throws: RedisAddressError.self) { try RedisAddress(parsing: "redis://h:70000/1") }
        #expect(
            error?.description
                == "invalid Redis URL: bad port `70000`: must be a whole number from 1 to 65535 "
                + "(expected redis://[[user]:password@]host[:port][/database])"
        )
    }

    @Test("passwords never appear in descriptions or errors")
    func passwordsRedacted() throws {
        let address = try RedisAddress(parsing: "redis://u:topsecret@h:1/2")
        #expect(address.description == "redis://u:***@h:1/2")
        #expect(RedisAddress(host: "::1", password: "topsecret").description == "redis://:***@[::1]:6379/0")
        #expect(RedisAddress(host: "h").description == "redis://h:6379/0")

        let error = #expect(throws: RedisAddressError.self) { try RedisAddress(parsing: "redis://:topsecret%zz@h") }
        #expect(error?.description.contains("topsecret") == false)
    }

    @Test("description round-trips through parsing when there is no password")
    func descriptionRoundTrip() throws {
        for address in [RedisAddress(host: "h", port: 1, database: 9), RedisAddress(host: "::1", port: 7)] {
            #expect(try RedisAddress(parsing: address.description) == address)
        }
    }
}
