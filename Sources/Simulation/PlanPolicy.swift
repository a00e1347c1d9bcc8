import AdLoadCore

/// Baselines that choose from the learners' own actions: one catalog plan (``PlanSpec``)
/// per region for every session of everyone there (`best-plan`), or per user (`oracle:plan`).
///
/// A session gets the catalog's candidate with that spec for its region, feed length and
/// daily cap left, exactly what a learner could have chosen; where that spec has no valid
/// plan (another region's rules, or the daily cap used up) it gets no ads.
package struct PlanPolicy: SessionPolicy {
    /// Which spec a session gets.
    package enum Assignment: Sendable, Equatable {
        case uniform(PlanSpec)
        /// Spec per region index (regions have their own rules, so their own valid plans).
        case byRegion([PlanSpec])
        /// Spec per user index.
        case byUser([PlanSpec])
    }

    package let name: String
    package let assignment: Assignment
    let catalog: PlanCatalog

    package init(name: String, assignment: Assignment, catalog: PlanCatalog) {
        self.name = name
        self.assignment = assignment
        self.catalog = catalog
    }

    package func makeWorker() -> PlanWorker { PlanWorker(policy: self) }

    /// The spec for a session in `context`.
    func spec(for context: SessionContext) -> PlanSpec {
        switch assignment {
        case let .uniform(spec): spec
        case let .byRegion(table): context.region < table.count ? table[context.region] : .empty
        case let .byUser(table): context.userIndex < table.count ? table[context.userIndex] : .empty
        }
    }
}

/// A thread's side of a ``PlanPolicy``.
package struct PlanWorker: PolicyWorker {
    let policy: PlanPolicy

    package mutating func beginSession(_ context: SessionContext) -> PlanDecider {
        let spec = policy.spec(for: context)
        guard !spec.isEmpty else { return PlanDecider(plan: AdPlan()) }
        let plan = policy.catalog.plan(spec, region: context.region, feedLength: context.feedLength, adsToday: context.adsToday)
        return PlanDecider(plan: plan ?? AdPlan())
    }
}
