import StateStore
import Testing

@Suite("RedisReply accessors")
struct RedisReplyTests {
    @Test("string decodes UTF-8 bulk strings and statuses only")
    func string() {
        #expect(RedisReply.bulk(Array("héllo".utf8)).string == "héllo")
        #expect(RedisReply.bulk([0xFF, 0xFE]).string == nil)
        #expect(RedisReply.status("OK").string == "OK")
        #expect(RedisReply.integer(1).string == nil)
        #expect(RedisReply.null.string == nil)
        #expect(RedisReply.error("ERR x").string == nil)
    }

    @Test("int reads integers and decimal bulk strings")
    func int() {
        #expect(RedisReply.integer(-42).int == -42)
        #expect(RedisReply.bulk(Array("1234".utf8)).int == 1234)
        #expect(RedisReply.bulk(Array("12a".utf8)).int == nil)
        #expect(RedisReply.null.int == nil)
        #expect(RedisReply.array([.integer(1)]).int == nil)
    }

    @Test("other accessors and checked()")
    func others() throws {
        #expect(RedisReply.bulk([0, 1]).bytes == [0, 1])
        #expect(RedisReply.array([.null]).array == [.null])
        #expect(RedisReply.null.isNull)
        #expect(!RedisReply.bulk([]).isNull)
        #expect(RedisReply.error("ERR x").errorMessage == "ERR x")
        #expect(try RedisReply.integer(3).checked() == .integer(3))
        #expect(throws: RedisError.server(message: "ERR x")) { try RedisReply.error("ERR x").checked() }
    }
}
