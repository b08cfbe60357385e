//! Typed identifiers.
//!
//! Message ids are 63-bit, time-ordered and unique across nodes: 41 bits of milliseconds since
//! 2025-01-01, 10 bits of node id, 12 bits of sequence. Ordering by id is ordering by acceptance
//! time, which the cursor pagination of the message list relies on.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

/// Milliseconds of 2025-01-01T00:00:00Z since the Unix epoch.
const EPOCH_MS: u64 = 1_735_689_600_000;
const NODE_BITS: u32 = 10;
const SEQ_BITS: u32 = 12;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(i64);

        impl $name {
            pub fn new(raw: i64) -> Self {
                Self(raw)
            }
            pub fn get(self) -> i64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }

        impl FromStr for $name {
            type Err = std::num::ParseIntError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse::<i64>().map(Self)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                // As a string: ids exceed the 2^53 that JavaScript numbers hold exactly.
                s.collect_str(self)
            }
        }
    };
}

id_type!(
    /// A customer account.
    AccountId
);
id_type!(
    /// One message to one recipient.
    MessageId
);

impl MessageId {
    /// When the id was made (the message accepted), in Unix milliseconds.
    pub fn unix_ms(self) -> u64 {
        ((self.0 as u64) >> (NODE_BITS + SEQ_BITS)) + EPOCH_MS
    }
}

/// Generates unique, time-ordered ids for one node.
#[derive(Debug)]
pub struct IdGenerator {
    node: u64,
    /// Last issued (millis << SEQ_BITS | seq), so that ids stay increasing even if the clock
    /// steps back.
    last: AtomicU64,
}

impl IdGenerator {
    /// `node` must be unique among the nodes sharing one database (0..1024).
    pub fn new(node: u16) -> Self {
        assert!(
            u32::from(node) < (1 << NODE_BITS),
            "node id must be below 1024"
        );
        Self {
            node: u64::from(node),
            last: AtomicU64::new(0),
        }
    }

    /// The next id, given the current Unix time in milliseconds.
    pub fn next_at(&self, unix_ms: u64) -> i64 {
        let now = unix_ms.saturating_sub(EPOCH_MS) << SEQ_BITS;
        let mut prev = self.last.load(Ordering::Relaxed);
        loop {
            let candidate = if now > prev { now } else { prev + 1 };
            match self.last.compare_exchange_weak(
                prev,
                candidate,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    let millis = candidate >> SEQ_BITS;
                    let seq = candidate & ((1 << SEQ_BITS) - 1);
                    let id = (millis << (NODE_BITS + SEQ_BITS)) | (self.node << SEQ_BITS) | seq;
                    return (id & (i64::MAX as u64)) as i64;
                }
                Err(actual) => prev = actual,
            }
        }
    }

    /// The next id by the system clock.
    pub fn next(&self) -> i64 {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        self.next_at(ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_unique_and_increasing_within_one_millisecond() {
        let g = IdGenerator::new(7);
        let ids: Vec<i64> = (0..10_000).map(|_| g.next_at(EPOCH_MS + 1000)).collect();
        // The sequence overflows into the next milliseconds, never back.
        assert_eq!(MessageId::new(ids[0]).unix_ms(), EPOCH_MS + 1000);
        assert!(ids
            .iter()
            .all(|&i| MessageId::new(i).unix_ms() >= EPOCH_MS + 1000));
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
    }

    #[test]
    fn ids_stay_increasing_when_the_clock_steps_back() {
        let g = IdGenerator::new(1);
        let a = g.next_at(EPOCH_MS + 5000);
        let b = g.next_at(EPOCH_MS + 4000);
        assert!(b > a);
    }

    #[test]
    fn different_nodes_never_collide() {
        let a = IdGenerator::new(1).next_at(EPOCH_MS + 10);
        let b = IdGenerator::new(2).next_at(EPOCH_MS + 10);
        assert_ne!(a, b);
    }

    #[test]
    fn ids_are_positive() {
        let g = IdGenerator::new(1023);
        assert!(g.next_at(u64::MAX / 2) >= 0);
        assert!(g.next() > 0);
    }
}
