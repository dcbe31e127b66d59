//! Seeded 5xx injection, reproducible from the seed and the order of requests.

use super::config::FaultConfig;
use crate::data::SplitMix64;

/// The fault stream.
#[derive(Debug)]
pub(crate) struct FaultInjector {
    config: FaultConfig,
    rng: SplitMix64,
}

impl FaultInjector {
    /// Starts the stream for a configuration.
    pub(crate) fn new(config: FaultConfig) -> Self {
        let rng = SplitMix64::new(config.seed);
        Self { config, rng }
    }

    /// The active configuration.
    pub(crate) fn config(&self) -> &FaultConfig {
        &self.config
    }

    /// The status to fail the next request (to `table`, when it names one) with, if it is to
    /// fail. Every request the configuration covers draws one number, so changing the rate
    /// never shifts the stream.
    pub(crate) fn next_for(&mut self, table: Option<&str>) -> Option<u16> {
        let covered = self.config.tables.is_empty()
            || table.is_some_and(|t| self.config.tables.iter().any(|c| c == t));
        if !covered {
            return None;
        }
        self.next()
    }

    /// The status to fail the next request with, if it is to fail. Always draws one number,
    /// so changing the rate never shifts the stream.
    pub(crate) fn next(&mut self) -> Option<u16> {
        let roll = self.rng.unit();
        (roll < self.config.error_rate).then(|| self.config.error_status.clamp(500, 599))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_fails_the_same_requests() {
        let config = FaultConfig {
            seed: 9,
            error_rate: 0.3,
            error_status: 503,
            ..FaultConfig::default()
        };
        let draw = |c: &FaultConfig| {
            let mut f = FaultInjector::new(c.clone());
            (0..200).map(|_| f.next()).collect::<Vec<_>>()
        };
        let a = draw(&config);
        assert_eq!(a, draw(&config));
        let failures = a.iter().flatten().count();
        assert!((30..90).contains(&failures), "{failures}");
        assert!(a.iter().flatten().all(|s| *s == 503));
    }

    #[test]
    fn a_table_outage_fails_only_that_tables_requests() {
        let mut f = FaultInjector::new(FaultConfig {
            error_rate: 1.0,
            error_status: 503,
            tables: vec!["grid-a".into()],
            ..FaultConfig::default()
        });
        assert_eq!(f.next_for(Some("grid-a")), Some(503));
        assert_eq!(f.next_for(Some("grid-b")), None);
        assert_eq!(f.next_for(None), None);
    }
}
