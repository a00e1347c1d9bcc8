@testable import AdLoadCore
import AdLoadTestSupport
import Foundation
@testable import Policies
@testable import Simulation
import Testing
@testable import Training

@Suite("Learning from logs as a stream: the fast line parser, block statistics, shards")
struct LogStreamTests {
    /// A decision log of an exploring softmax on the default preset (`simulate --log`'s format).
    static let log: (path: String, records: [LoggedRecord], schema: FeatureSchema) = {
        let config = try! defaultEnvironment()
        let schema = config.featureSchema
        let bandit = try! LinearBandit(
            contextCount: schema.contextCount, descriptorCount: schema.descriptorCount, algorithm: .softmax(temperature: 0.05, explorationFloor: 0.1))
        let policy = SimulatedPolicy(name: "softmax", version: "test", bandit: bandit, schema: schema, catalog: config.planCatalog(), decisionSeed: 5)
        let path = temporaryPath("stream.jsonl")
        let writer = try! DecisionLogWriter(path: path)
        _ = try! BanditRunner(model: EnvironmentModel(config: config), threads: 2).run(
            policy, setup: SimulationSetup(users: 60, days: 12, seed: 8), reward: .standard, learn: true, log: writer)
        try! writer.close()
        return (path, try! DecisionLogReader.read(path: path), schema)
    }()

    func freshBandit(_ schema: FeatureSchema) throws -> LinearBandit {
        var bandit = try LinearBandit(contextCount: schema.contextCount, descriptorCount: schema.descriptorCount, algorithm: .epsilonGreedy(epsilon: 0.05), lambda: 10)
        bandit.enablePricing()
        return bandit
    }

    func relativeDifference(_ x: [Double], _ y: [Double]) -> Double {
        precondition(x.count == y.count)
        let scale = max(1e-300, x.map(abs).max() ?? 0, y.map(abs).max() ?? 0)
        return zip(x, y).map { abs($0 - $1) }.max().map { $0 / scale } ?? 0
    }

    @Test("the line parser reads what Foundation's decoder reads, for every line of a simulated log")
    func parserMatchesDecoder() throws {
        let (path, records, _) = Self.log
        #expect(records.count > 1000)
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        var parser = DecisionLineParser()
        var parsed = ParsedDecision()
        for (line, record) in zip(lines, records) {
            var bytes = Array(line.utf8)
            try bytes.withUnsafeBytes { try parser.parse($0, into: &parsed) }
            bytes.removeAll()
            #expect(parsed.features == record.features)
            #expect(parsed.candidates == record.candidates.map(\.spec))
            #expect(parsed.chosen == record.chosen && parsed.probability == record.probability && parsed.reward == record.reward)
            #expect(parsed.feedLength == record.feedLength && parsed.adLimit == record.adLimit)
            #expect(parsed.contextSchemaHash == record.contextSchema.map(FNV1a64.hash))
            #expect(parsed.decisionIDHash == FNV1a64.hash(record.decisionID))
            #expect(parsed.revenue == record.outcome.revenue && parsed.ads == record.outcome.ads)
            #expect(parsed.negatives == record.outcome.negatives && parsed.items == record.outcome.items)
            #expect(parsed.simUser == record.sim?.user && parsed.simSession == record.sim?.sessionIndex)
        }
    }

    @Test(
        "bad lines are refused with what is wrong",
        arguments: [
            ("{\"features\": [1]}", "missing key 'candidates'"),
            ("{\"features\": [1,]}", "key 'features' is not a number"),
            ("{\"features\" [1]}", "not valid JSON at byte 13: expected ':'"),
            ("{\"chosen\": \"two\"}", "key 'chosen' is not a number"),
            ("{} {}", "text after the record's closing brace"),
            ("{\"features\": [1], \"features\": [2]}", "a key given twice"),
            ("{\"features\": [1], \"x\": tru}", "expected true"),
            ("{\"a\": \"unterminated}", "the line ends inside a string"),
        ])
    func badLines(line: String, message: String) {
        var parser = DecisionLineParser()
        var parsed = ParsedDecision()
        let bytes = Array(line.utf8)
        let error = #expect(throws: LineProblem.self) { try bytes.withUnsafeBytes { try parser.parse($0, into: &parsed) } }
        #expect(error?.message.contains(message) == true, "\(line): \(error?.message ?? "no error")")
    }

    @Test("streamed statistics give the bandit the record-by-record path learns (to 1e-9), whatever the thread count and block size")
    func streamEqualsSequential() throws {
        let (path, records, schema) = Self.log
        let sequential = try LoggedTraining.train(try freshBandit(schema), records: records, schema: schema, maxWeight: 10)
        let one = try LoggedTraining.statistics(paths: [path], schema: schema, maxWeight: 10, threads: 1)
        let two = try LoggedTraining.statistics(paths: [path], schema: schema, maxWeight: 10, threads: 2)
        #expect(one == two, "the thread count changed the sums")
        let streamed = try one.applied(to: try freshBandit(schema))
        #expect(one.count == records.count)
        #expect(relativeDifference(streamed.model.a.elements, sequential.bandit.model.a.elements) < 1e-9)
        #expect(relativeDifference(streamed.model.b.elements, sequential.bandit.model.b.elements) < 1e-9)
        #expect(relativeDifference(streamed.model.theta.elements, sequential.bandit.model.theta.elements) < 1e-9)
        let (p, q) = (try #require(streamed.pricing), try #require(sequential.bandit.pricing))
        for k in 0..<4 {
            #expect(relativeDifference(p.b[k].elements, q.b[k].elements) < 1e-9)
            #expect(abs(p.totals[k] - q.totals[k]) <= 1e-9 * max(1, abs(q.totals[k])))
        }
        #expect(one.curveLines == sequential.curve, "the learning curve is the record-by-record one")

        // Small blocks split the log differently: the same sums up to rounding.
        var reader = try DecisionLogBatches(path: path, blockSize: 5000)
        var learner = LoggedBatchLearner(schema: schema, maxWeight: 10)
        var blocks = LoggedStatistics(dimension: one.dimension)
        var count = 0
        while let batch = try reader.next() {
            count += 1
            blocks.append(try learner.learn(batch).statistics)
        }
        #expect(count > 100)
        #expect(relativeDifference(blocks.a, one.a) < 1e-12 && blocks.count == one.count && blocks.curve == one.curve)
    }

    @Test("shards learned apart and merged through their files equal one pass over the whole log (to 1e-9)")
    func shardsMerge() throws {
        let (path, _, schema) = Self.log
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        let cuts = [0, lines.count / 3, lines.count / 2 + 17, lines.count]
        var merged = LoggedStatistics(dimension: schema.contextCount * schema.descriptorCount)
        let settings = StatisticsFile.Settings(
            algorithm: "egreedy", hyperparameters: ["epsilon": 0.05], lambda: 10, reward: RewardWeights.standard.dictionary, history: ["a"],
            contextFingerprint: schema.contextFingerprint, maxWeight: 10, environment: "default", environmentFile: "env/default.json", environmentFingerprint: "f")
        for shard in 0..<3 {
            let shardPath = temporaryPath("shard\(shard).jsonl")
            let statisticsPath = temporaryPath("shard\(shard).stats.json")
            defer { for file in [shardPath, statisticsPath] { try? FileManager.default.removeItem(atPath: file) } }
            try Data(lines[cuts[shard]..<cuts[shard + 1]].joined(separator: "\n").utf8).write(to: URL(fileURLWithPath: shardPath))
            let statistics = try LoggedTraining.statistics(paths: [shardPath], schema: schema, maxWeight: 10, threads: 2)
            try Data(StatisticsFile(settings: settings, statistics: statistics, logs: [shardPath]).text.utf8).write(to: URL(fileURLWithPath: statisticsPath))
            let loaded = try StatisticsFile.load(path: statisticsPath)
            let back = loaded.file.statistics
            #expect(back.a == statistics.a && back.b == statistics.b && back.totals == statistics.totals, "the file does not give back the same sums")
            #expect(back.count == statistics.count && back.curve == statistics.curve && back.pendingCount == statistics.pendingCount)
            #expect(back.pendingReward == statistics.pendingReward && back.pendingWeight == statistics.pendingWeight)
            #expect(loaded.users == statistics.users.count)
            #expect(loaded.file.settings == settings)
            merged.append(loaded.file.statistics)
        }
        let whole = try LoggedTraining.statistics(paths: [path], schema: schema, maxWeight: 10, threads: 1)
        #expect(merged.count == whole.count)
        #expect(relativeDifference(merged.a, whole.a) < 1e-9)
        for target in 0..<5 { #expect(relativeDifference(merged.b[target], whole.b[target]) < 1e-9) }
        let (fromShards, fromWhole) = (try merged.applied(to: try freshBandit(schema)), try whole.applied(to: try freshBandit(schema)))
        #expect(relativeDifference(fromShards.model.theta.elements, fromWhole.model.theta.elements) < 1e-9)
    }

    @Test("a bad line deep in a log is reported with its file and line, whatever the thread count")
    func badLineNumber() throws {
        let (path, _, schema) = Self.log
        var lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
        let bad = lines.count - 7
        lines[bad - 1] = lines[bad - 1].replacingOccurrences(of: "\"probability\":", with: "\"probability\":-")
        let broken = temporaryPath("broken.jsonl")
        defer { try? FileManager.default.removeItem(atPath: broken) }
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: broken))
        for threads in [1, 2] {
            let error = #expect(throws: DecisionLogError.self) { try LoggedTraining.statistics(paths: [broken], schema: schema, maxWeight: 10, threads: threads) }
            #expect(error?.description.hasPrefix("\(broken):\(bad): probability = -") == true, "\(String(describing: error))")
        }
    }

    @Test("the streamed evaluation gives the in-memory estimates, intervals of the same width, and the same result on 1 and 2 threads")
    func streamedEvaluation() throws {
        let (path, records, schema) = Self.log
        let start = try LinearBandit(contextCount: schema.contextCount, descriptorCount: schema.descriptorCount, algorithm: .softmax(temperature: 0.02))
        let trained = try LoggedTraining.statistics(paths: [path], schema: schema, maxWeight: 10, threads: 2).applied(to: start)
        let contractPolicy = contract(trained, schema: schema)
        let bootstrap = BootstrapConfiguration(replicates: 400, seed: 11)
        let memory = try OffPolicyReport(
            decisions: try PolicyEvaluation(target: contractPolicy, records: records, decisionSeed: 9).decisions, bootstrap: bootstrap)
        let one = try StreamedEvaluation.report(target: contractPolicy, paths: [path], switchThreshold: 20, bootstrap: bootstrap, decisionSeed: 9, threads: 1)
        let two = try StreamedEvaluation.report(target: contractPolicy, paths: [path], switchThreshold: 20, bootstrap: bootstrap, decisionSeed: 9, threads: 2)
        #expect(one.report == two.report)
        let rewardSum: Double = records.reduce(0) { $0 + $1.reward }
        let loggedValue = rewardSum / Double(records.count)
        #expect(abs(one.loggedValue - loggedValue) < 1e-12)
        for (streamed, reference) in zip(one.report.estimates, memory.estimates) {
            #expect(streamed.name == reference.name)
            let valueGap: Double = abs(streamed.value - reference.value)
            let valueScale: Double = max(1, abs(reference.value))
            #expect(valueGap <= 1e-9 * valueScale, "\(streamed.name): \(streamed.value) vs \(reference.value)")
            let essGap: Double = abs(streamed.effectiveSampleSize - reference.effectiveSampleSize)
            #expect(essGap <= 1e-6 * reference.effectiveSampleSize)
            #expect(streamed.n == records.count)
            // Poisson and multinomial bootstraps estimate the same spread: within 25% at B = 400.
            let ratio: Double = streamed.standardError / reference.standardError
            #expect(ratio > 0.75 && ratio < 1.25, "\(streamed.name): standard errors \(streamed.standardError) vs \(reference.standardError)")
            #expect(streamed.lower95 <= streamed.value && streamed.value <= streamed.upper95)
        }
    }

    @Test("logged prices: a priced target is evaluated at each decision's prices, in memory and streamed; bad prices are refused by line")
    func loggedPrices() throws {
        let (path, records, schema) = Self.log
        let trained = try LoggedTraining.statistics(paths: [path], schema: schema, maxWeight: 10, threads: 2).applied(to: try freshBandit(schema))
        #expect(trained.pricing != nil)
        let target = contract(try trained.with(algorithm: .softmax(temperature: 0.02)), schema: schema)
        // Every other decision was paced: an impression price and a revenue price that vary.
        let priced = records.enumerated().map { index, record -> LoggedRecord in
            var record = record
            if index % 2 == 0 { record.prices = [1 + Double(index % 7) / 7, Double(index % 5), 0, 0.25] }
            return record
        }
        let pricedPath = temporaryPath("priced-stream.jsonl")
        defer { try? FileManager.default.removeItem(atPath: pricedPath) }
        let writer = try DecisionLogWriter(path: pricedPath)
        for record in priced { try writer.write(record) }
        try writer.close()
        let reread = try DecisionLogReader.read(path: pricedPath)
        #expect(reread == priced, "prices survive the log")

        // In memory, by hand: the target's probability of each logged plan at the logged prices.
        let evaluation = try PolicyEvaluation(target: target, records: priced, decisionSeed: 9)
        let workspace = target.makeWorkspace(maxCandidates: 200)
        var probabilities: [Double] = []
        var moved = 0
        for (record, decision) in zip(priced, evaluation.decisions) {
            let candidates = record.candidatePlans()
            workspace.load(features: record.features, prices: record.pacingPrices)
            _ = target.probabilities(candidates, random: PolicyEvaluation.random(for: record, seed: 9), workspace: workspace, into: &probabilities)
            #expect(decision.targetProbability == probabilities[record.chosen])
            workspace.load(features: record.features)
            _ = target.probabilities(candidates, random: PolicyEvaluation.random(for: record, seed: 9), workspace: workspace, into: &probabilities)
            if abs(decision.targetProbability - probabilities[record.chosen]) > 1e-6 { moved += 1 }
        }
        #expect(moved > priced.count / 10, "the prices move the target's probabilities (\(moved) of \(priced.count))")

        // Streamed: the fast parser reads the prices and gives the in-memory estimates.
        var parser = DecisionLineParser()
        var parsed = ParsedDecision()
        let lines = try String(contentsOfFile: pricedPath, encoding: .utf8).split(separator: "\n")
        for (line, record) in zip(lines, priced) {
            var bytes = Array(line.utf8)
            try bytes.withUnsafeBytes { try parser.parse($0, into: &parsed) }
            bytes.removeAll()
            #expect(parsed.prices == record.pacingPrices)
        }
        let bootstrap = BootstrapConfiguration(replicates: 200, seed: 11)
        let memory = try OffPolicyReport(decisions: evaluation.decisions, bootstrap: bootstrap)
        let streamed = try StreamedEvaluation.report(target: target, paths: [pricedPath], switchThreshold: 20, bootstrap: bootstrap, decisionSeed: 9, threads: 2)
        for (one, reference) in zip(streamed.report.estimates, memory.estimates) {
            #expect(abs(one.value - reference.value) <= 1e-9 * max(1, abs(reference.value)), "\(one.name): \(one.value) vs \(reference.value)")
        }

        // Three prices, or a negative one, are refused with the line.
        for bad in ["[1,2,3]", "[1,-2,0,0]"] {
            let line = String(lines[0]).replacingOccurrences(of: "\"prices\":[", with: "\"prices\":\(bad),\"was\":[")
            var bytes = Array(line.utf8)
            let error = #expect(throws: LineProblem.self) { try bytes.withUnsafeBytes { try parser.parse($0, into: &parsed) } }
            #expect(error?.message.contains("prices") == true, "\(String(describing: error?.message))")
            bytes.removeAll()
            let badPath = temporaryPath("bad-prices.jsonl")
            defer { try? FileManager.default.removeItem(atPath: badPath) }
            try Data((line + "\n").utf8).write(to: URL(fileURLWithPath: badPath))
            let readError = #expect(throws: DecisionLogError.self) { try DecisionLogReader.read(path: badPath) }
            #expect(readError?.description.hasPrefix("\(badPath):1: prices must be four non-negative numbers") == true, "\(String(describing: readError))")
        }
    }

    @Test("a gzip-compressed log (several members too) gives the plain log's sums bit for bit; a corrupt one is refused by name")
    func gzipLogs() throws {
        let (path, _, schema) = Self.log
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        let half = lines.count / 2
        let first = temporaryPath("first.jsonl"), second = temporaryPath("second.jsonl"), packed = temporaryPath("packed.jsonl.gz")
        defer { for file in [first, second, first + ".gz", second + ".gz", packed] { try? FileManager.default.removeItem(atPath: file) } }
        try Data((lines[..<half].joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: first))
        try Data(lines[half...].joined(separator: "\n").utf8).write(to: URL(fileURLWithPath: second))
        for file in [first, second] {
            let gzip = Process()
            gzip.executableURL = URL(fileURLWithPath: "/bin/gzip")
            gzip.arguments = ["-k", file]
            try gzip.run()
            gzip.waitUntilExit()
            try #require(gzip.terminationStatus == 0)
        }
        // Two gzip members back to back, as `cat a.gz b.gz` makes: one log.
        var members = try Data(contentsOf: URL(fileURLWithPath: first + ".gz"))
        members.append(try Data(contentsOf: URL(fileURLWithPath: second + ".gz")))
        try members.write(to: URL(fileURLWithPath: packed))
        let plain = try LoggedTraining.statistics(paths: [path], schema: schema, maxWeight: 10, threads: 2)
        let compressed = try LoggedTraining.statistics(paths: [packed], schema: schema, maxWeight: 10, threads: 2)
        #expect(compressed == plain)

        // Cut short: refused as truncated, not read as a shorter log.
        try members.prefix(members.count / 2).write(to: URL(fileURLWithPath: packed))
        let truncated = #expect(throws: DecisionLogError.self) { try LoggedTraining.statistics(paths: [packed], schema: schema, maxWeight: 10, threads: 1) }
        #expect(truncated?.description.hasPrefix(packed) == true, "\(String(describing: truncated))")

        var corrupt = members
        corrupt.replaceSubrange(40..<60, with: Data(repeating: 0x55, count: 20))
        try corrupt.write(to: URL(fileURLWithPath: packed))
        let error = #expect(throws: DecisionLogError.self) { try LoggedTraining.statistics(paths: [packed], schema: schema, maxWeight: 10, threads: 1) }
        #expect(error?.description.hasPrefix(packed) == true, "\(String(describing: error))")
    }
}
