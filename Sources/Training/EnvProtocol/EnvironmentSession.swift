import AdLoadCore
import Foundation
import PolicyGradient
import Simulation

/// The environment model as a batch of Gymnasium-style episodes, for `adload env --stdio`
/// (env/PROTOCOL.md): `batch` slots each run one user's horizon at a time, a step takes
/// one action per slot, and a slot whose episode ends starts the next user at once.
///
/// Observation, actions and mask are PPO's (``SimulatedEpisodes``): the observable context
/// encoded with the feature schema, one action per plan spec of the catalog, the mask
/// allowing the session's valid plans. The reward is the session's realized revenue.
/// Users are numbered from 0 in the order slots start them, so slot b starts user b after a
/// seeded reset, and user u lives exactly the life `adload simulate --seed S` gives user u
/// under the same plans.
package struct EnvironmentSession: Sendable {
    /// What a step does with an action the mask does not allow.
    package enum InvalidAction: String, Sendable {
        /// Refuse the step (nothing moves) with an error naming the slot.
        case error
        /// Show no ads in that session (always valid), and say so in the step's `info`.
        case noAds = "no-ads"
    }

    /// One slot's part of a step.
    package struct SlotStep: Sendable {
        package var reward: Double
        package var terminated: Bool
        package var truncated: Bool
        /// The user and session index the action was taken in.
        package var user: Int
        package var session: Int
        package var outcome: SessionOutcome
        /// The action the step took (the no-ads action when an invalid one was replaced).
        package var action: Int
        package var replaced: Bool
    }

    package let batch: Int
    package let model: EnvironmentModel
    package let schema: FeatureSchema
    package let days: Int
    package private(set) var seed: UInt64
    var slots: [SimulatedEpisodes]
    /// Each slot's current step (observation and mask); `nil` before the first reset.
    package private(set) var current: [EpisodeStep?]
    /// Each slot's user and the index of its next session.
    package private(set) var users: [Int]
    package private(set) var sessions: [Int]
    /// The next user a slot starts.
    package private(set) var nextUser = 0
    /// The no-ads plan's action index.
    package let noAdsAction: Int

    /// A session of `batch` slots over the environment's population for `seed`, each user
    /// living `days` days. Nothing runs before ``reset(seed:)``.
    package init(model: EnvironmentModel, schema: FeatureSchema, days: Int, seed: UInt64, batch: Int) {
        precondition(batch >= 1 && days >= 1, "EnvironmentSession: a batch and a horizon of at least 1")
        self.batch = batch
        self.model = model
        self.schema = schema
        self.days = days
        self.seed = seed
        let episodes = Self.episodes(model: model, schema: schema, days: days, seed: seed)
        slots = Array(repeating: episodes, count: batch)
        current = Array(repeating: nil, count: batch)
        users = Array(repeating: -1, count: batch)
        sessions = Array(repeating: 0, count: batch)
        guard let noAds = episodes.specs.firstIndex(of: .empty) else { preconditionFailure("the catalog has a no-ads plan") }
        noAdsAction = noAds
    }

    static func episodes(model: EnvironmentModel, schema: FeatureSchema, days: Int, seed: UInt64) -> SimulatedEpisodes {
        SimulatedEpisodes(model: model, schema: schema, setup: SimulationSetup(users: 1, days: days, seed: seed), engagementWeight: 0)
    }

    /// The action list: action a shows plan spec `actions[a]`.
    package var actions: [PlanSpec] { slots[0].specs }
    package var observationCount: Int { slots[0].observationCount }

    /// Starts every slot on a fresh user: from user 0 of a new population when `seed` is
    /// given, else on the users that follow the last one started.
    package mutating func reset(seed newSeed: UInt64?) {
        if let newSeed {
            seed = newSeed
            slots = Array(repeating: Self.episodes(model: model, schema: schema, days: days, seed: newSeed), count: batch)
            nextUser = 0
        }
        for slot in 0..<batch { start(slot) }
    }

    /// Starts the next user with a session inside the horizon in `slot`.
    mutating func start(_ slot: Int) {
        for _ in 0..<Self.maxSkippedUsers {
            let user = nextUser
            nextUser += 1
            if let step = slots[slot].reset(episode: user) {
                current[slot] = step
                users[slot] = user
                sessions[slot] = 0
                return
            }
        }
        preconditionFailure("\(Self.maxSkippedUsers) users in a row had no session inside \(days) days: the environment's visit model cannot be stepped")
    }

    /// Users in a row without a session in the horizon after which the model is deemed
    /// broken (with a first visit on day 0 for every user, none is ever skipped).
    static let maxSkippedUsers = 100_000

    /// Takes one action per slot; a slot whose episode ends starts the next user, whose
    /// first observation is then the slot's ``current`` one.
    /// - Throws: ``EnvironmentProtocolError`` before anything moves: before the first
    ///   reset, for a count other than the batch, or an action outside the list or (with
    ///   `invalid` `.error`) not allowed by the slot's mask.
    package mutating func step(_ actions: [Int], invalid: InvalidAction, into results: inout [SlotStep]) throws(EnvironmentProtocolError) {
        guard current.allSatisfy({ $0 != nil }) else { throw EnvironmentProtocolError("step before reset: send {\"op\": \"reset\"} first") }
        guard actions.count == batch else {
            throw EnvironmentProtocolError("actions has \(actions.count) entries, the batch is \(batch)")
        }
        let count = self.actions.count
        for (slot, action) in actions.enumerated() {
            guard (0..<count).contains(action) else {
                throw EnvironmentProtocolError("actions[\(slot)] = \(action) is not an action index (0..<\(count))")
            }
            if invalid == .error, let mask = current[slot]?.mask, !mask[action] {
                throw EnvironmentProtocolError(
                    "actions[\(slot)] = \(action) (\(self.actions[action])) is not allowed in this session (its mask is false)")
            }
        }
        results.removeAll(keepingCapacity: true)
        for (slot, requested) in actions.enumerated() {
            let allowed = current[slot]?.mask[requested] ?? false
            let action = allowed ? requested : noAdsAction
            let result = slots[slot].step(action)
            guard let outcome = slots[slot].lastOutcome else { preconditionFailure("a step has an outcome") }
            results.append(SlotStep(
                reward: result.reward, terminated: result.terminated, truncated: result.truncated, user: users[slot],
                session: sessions[slot], outcome: outcome, action: action, replaced: !allowed))
            sessions[slot] += 1
            if let next = result.next {
                current[slot] = next
            } else {
                start(slot)
            }
        }
    }
}

/// A request `adload env` refuses, in words (the response's `error`).
package struct EnvironmentProtocolError: Error, Sendable {
    package let message: String
    package init(_ message: String) { self.message = message }
}
