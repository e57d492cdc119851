//! What one caller may take of the server: at most `max_calls` in flight, and calls started at
//! `rate` per second on average (a token bucket of `burst`), by default or as set for the caller's
//! role. A caller is a credential's subject, known only after authentication, so an
//! unauthenticated flood never counts against anyone.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::Role;

/// Per-caller limits.
#[derive(Debug, Clone, Copy)]
pub struct CallerLimits {
    pub max_calls: usize,
    pub rate: f64,
    pub burst: f64,
}

/// Why a call was not admitted, with how long to wait before trying again.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Refusal {
    /// The caller has `max_calls` calls in flight.
    Busy(Duration),
    /// The caller started calls faster than the rate allows.
    Rate(Duration),
}

#[derive(Debug)]
struct Caller {
    in_flight: usize,
    tokens: f64,
    at: Instant,
}

pub struct Callers {
    limits: CallerLimits,
    by_role: HashMap<Role, CallerLimits>,
    table: Mutex<HashMap<String, Caller>>,
}

/// Callers kept before quiet ones (nothing in flight, bucket full) are forgotten.
const KEEP: usize = 10_000;

impl Callers {
    /// `limits` for every caller but those of a role `by_role` sets its own for.
    pub fn new(limits: CallerLimits, by_role: &[(Role, CallerLimits)]) -> Arc<Callers> {
        Arc::new(Callers {
            limits,
            by_role: by_role.iter().copied().collect(),
            table: Mutex::new(HashMap::new()),
        })
    }

    /// Admits a call by `subject` acting in `role`, or says why not; the call counts until the
    /// `Admitted` drops.
    pub fn admit(
        self: &Arc<Self>,
        subject: &str,
        role: Role,
        now: Instant,
    ) -> Result<Admitted, Refusal> {
        let l = self.by_role.get(&role).copied().unwrap_or(self.limits);
        let mut table = self.table.lock().expect("callers lock");
        if table.len() >= KEEP && !table.contains_key(subject) {
            // Judged by the default limits: a forgotten caller only starts again with a full bucket.
            let d = self.limits;
            table.retain(|_, c| c.in_flight > 0 || refill(c, d, now) < d.burst);
        }
        if !table.contains_key(subject) {
            let fresh = Caller {
                in_flight: 0,
                tokens: l.burst,
                at: now,
            };
            table.insert(subject.to_owned(), fresh);
        }
        let c = table.get_mut(subject).expect("inserted above");
        c.tokens = refill(c, l, now);
        c.at = now;
        if c.in_flight >= l.max_calls {
            return Err(Refusal::Busy(Duration::from_secs(1)));
        }
        if c.tokens < 1.0 {
            let wait = (1.0 - c.tokens) / l.rate;
            return Err(Refusal::Rate(Duration::from_secs_f64(wait.max(0.001))));
        }
        c.tokens -= 1.0;
        c.in_flight += 1;
        Ok(Admitted {
            callers: self.clone(),
            subject: subject.to_owned(),
        })
    }
}

fn refill(c: &Caller, l: CallerLimits, now: Instant) -> f64 {
    let elapsed = now.saturating_duration_since(c.at).as_secs_f64();
    (c.tokens + elapsed * l.rate).min(l.burst)
}

/// An admitted call; dropping it ends the call's count.
pub struct Admitted {
    callers: Arc<Callers>,
    subject: String,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut table = self.callers.table.lock().expect("callers lock");
        if let Some(c) = table.get_mut(&self.subject) {
            c.in_flight = c.in_flight.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> CallerLimits {
        CallerLimits {
            max_calls: 2,
            rate: 10.0,
            burst: 3.0,
        }
    }

    #[test]
    fn a_caller_holds_at_most_its_calls_and_others_are_untouched() {
        let callers = Callers::new(limits(), &[]);
        let now = Instant::now();
        let a = callers.admit("a", Role::Agent, now).unwrap();
        let _b = callers.admit("a", Role::Agent, now).unwrap();
        assert!(matches!(
            callers.admit("a", Role::Agent, now),
            Err(Refusal::Busy(_))
        ));
        assert!(callers.admit("other", Role::Agent, now).is_ok());
        drop(a);
        assert!(callers.admit("a", Role::Agent, now).is_ok());
    }

    #[test]
    fn the_rate_refills_over_time_and_says_when() {
        let callers = Callers::new(limits(), &[]);
        let now = Instant::now();
        for _ in 0..3 {
            drop(callers.admit("a", Role::Agent, now).unwrap());
        }
        let Err(Refusal::Rate(wait)) = callers.admit("a", Role::Agent, now) else {
            panic!("the burst is spent");
        };
        assert_eq!(wait, Duration::from_millis(100));
        assert!(callers.admit("a", Role::Agent, now + wait).is_ok());
    }

    #[test]
    fn a_role_may_have_limits_of_its_own() {
        let crm = CallerLimits {
            max_calls: 5,
            ..limits()
        };
        let callers = Callers::new(limits(), &[(Role::Integration, crm)]);
        let now = Instant::now();
        let held: Vec<_> = (0..3)
            .map(|_| callers.admit("crm", Role::Integration, now).unwrap())
            .collect();
        assert_eq!(held.len(), 3);
        let _a = callers.admit("sam", Role::Agent, now).unwrap();
        let _b = callers.admit("sam", Role::Agent, now).unwrap();
        assert!(matches!(
            callers.admit("sam", Role::Agent, now),
            Err(Refusal::Busy(_))
        ));
    }
}
