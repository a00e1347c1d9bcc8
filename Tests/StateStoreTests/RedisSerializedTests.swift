import Testing

/// Parent of the suites that run a client or store against redis-server.
///
/// They run one test at a time: some tests start thousands of tasks, and running them beside
/// the timing tests (deadlines, fail-fast) would starve those of the cooperative pool and
/// measure the test runner instead of the client.
@Suite("Redis client and live store", .serialized)
struct RedisSerializedTests {}
