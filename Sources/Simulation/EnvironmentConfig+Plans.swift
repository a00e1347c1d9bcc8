import AdLoadCore

extension EnvironmentConfig {
    /// The feature schema of this environment's categories.
    package var featureSchema: FeatureSchema {
        FeatureSchema(regions: regions.map(\.name), devices: devices.map(\.name), tenures: tenures.map(\.name))
    }

    /// The valid plans of `family` per region of this environment.
    package func planCatalog(_ family: PlanFamily = .standard) -> PlanCatalog {
        PlanCatalog(family: family, rules: regions.map(\.rules))
    }
}
