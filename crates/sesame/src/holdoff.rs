//! When to build after a change: at once when the last build is old, otherwise after a short
//! holdoff that a burst of changes cannot stretch past the maximum.
//!
//! Contour's rule, with one difference: Contour's maximum only zeroes the timer when the last
//! build is older than it, so a steady stream of events 99 ms apart can defer a build forever;
//! here the maximum is a hard bound from the last build.

use std::time::Duration;

use tokio::time::Instant;

/// The holdoff timer of the rebuild loop.
#[derive(Clone, Debug)]
pub struct Holdoff {
    delay: Duration,
    max_delay: Duration,
    last_build: Option<Instant>,
    deadline: Option<Instant>,
}

impl Holdoff {
    /// A timer with Contour's defaults or the values of `--holdoff-delay`/`--holdoff-max-delay`.
    pub fn new(delay: Duration, max_delay: Duration) -> Self {
        Holdoff {
            delay,
            max_delay: max_delay.max(delay),
            last_build: None,
            deadline: None,
        }
    }

    /// A change arrived at `now`: schedule (or keep) the next build.
    pub fn on_change(&mut self, now: Instant) {
        let at = match self.last_build {
            None => now,
            Some(last) if now.saturating_duration_since(last) >= self.max_delay => now,
            Some(last) => (now + self.delay).min(last + self.max_delay),
        };
        self.deadline = Some(at);
    }

    /// When the next build is due, if one is.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// A build ran at `now`.
    pub fn built(&mut self, now: Instant) {
        self.last_build = Some(now);
        self.deadline = None;
    }
}

#[cfg(test)]
mod tests;
