//! Seeded fault injection: HTTP 500s and slow responses, reproducible from the seed and the
//! order of requests.

use std::time::Duration;

use super::config::FaultConfig;
use crate::data::SplitMix64;

/// What to do to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Fault {
    /// Answer with an HTTP 500 instead of serving the request.
    pub error: bool,
    /// Wait this long before answering.
    pub delay: Option<Duration>,
}

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

    /// Decides the fate of the next request. Always draws two numbers, so changing the
    /// rates never shifts which requests a given seed picks.
    pub(crate) fn next(&mut self) -> Fault {
        let error_roll = self.rng.unit();
        let slow_roll = self.rng.unit();
        Fault {
            error: error_roll < self.config.error_rate,
            delay: (slow_roll < self.config.slow_rate).then_some(self.config.slow_delay),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_gives_same_faults() {
        let config = FaultConfig {
            seed: 9,
            error_rate: 0.3,
            slow_rate: 0.2,
            ..FaultConfig::default()
        };
        let a: Vec<Fault> = {
            let mut f = FaultInjector::new(config.clone());
            (0..50).map(|_| f.next()).collect()
        };
        let mut f = FaultInjector::new(config);
        let b: Vec<Fault> = (0..50).map(|_| f.next()).collect();
        assert_eq!(a, b);
        assert!(a.iter().any(|x| x.error) && a.iter().any(|x| !x.error));
    }

    #[test]
    fn default_config_injects_nothing() {
        let mut f = FaultInjector::new(FaultConfig::default());
        assert!((0..100).all(|_| f.next() == Fault::default()));
    }
}
