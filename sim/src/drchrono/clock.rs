//! The simulator clock: real UTC time, but strictly increasing and always later than every
//! timestamp already in the data, so each change gets a unique, newer `updated_at`.

use chrono::{Duration, NaiveDateTime};

use crate::data::time::now_utc;

/// A monotonic, second-resolution clock for stamping changes.
#[derive(Debug, Clone)]
pub(crate) struct SimClock {
    last: NaiveDateTime,
}

impl SimClock {
    /// A clock whose first tick is after `latest` (the newest timestamp in the data).
    pub(crate) fn after(latest: Option<NaiveDateTime>) -> SimClock {
        SimClock {
            last: latest.unwrap_or(NaiveDateTime::MIN),
        }
    }

    /// The next timestamp: the wall clock (naive UTC), or one second past the previous tick
    /// when the wall clock has not moved past it.
    pub(crate) fn tick(&mut self) -> NaiveDateTime {
        let next = now_utc().max(self.last + Duration::seconds(1));
        self.last = next;
        next
    }

    /// The latest timestamp handed out (or the data's newest timestamp before any tick).
    pub(crate) fn last(&self) -> NaiveDateTime {
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_strictly_increase_even_when_data_is_in_the_future() {
        let future = now_utc() + Duration::days(1);
        let mut clock = SimClock::after(Some(future));
        let a = clock.tick();
        let b = clock.tick();
        assert!(a > future);
        assert!(b > a);
    }
}
