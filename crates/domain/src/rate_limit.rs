//! A token bucket per key, driven by an explicit time in microseconds so that tests are exact.

/// One bucket: `rate` tokens per second, holding at most `burst`.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: u32,
    burst: u32,
    /// Tokens in millionths, so fractional refills are exact.
    micro_tokens: u64,
    last_us: u64,
}

/// What a caller is told when a request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter {
    pub seconds: u32,
}

impl TokenBucket {
    /// A full bucket. `rate` must be above zero.
    pub fn new(rate: u32, burst: u32, now_us: u64) -> Self {
        assert!(
            rate > 0,
            "a zero rate means no limit; do not build a bucket for it"
        );
        let burst = burst.max(1);
        Self {
            rate,
            burst,
            micro_tokens: u64::from(burst) * 1_000_000,
            last_us: now_us,
        }
    }

    /// Takes `n` tokens if there are enough.
    pub fn try_take(&mut self, n: u32, now_us: u64) -> Result<(), RetryAfter> {
        let elapsed = now_us.saturating_sub(self.last_us);
        self.last_us = self.last_us.max(now_us);
        let cap = u64::from(self.burst) * 1_000_000;
        self.micro_tokens =
            (self.micro_tokens + elapsed.saturating_mul(u64::from(self.rate))).min(cap);
        // A request larger than the burst is charged the whole burst: it passes when the bucket
        // is full instead of never.
        let need = u64::from(n.min(self.burst)) * 1_000_000;
        if self.micro_tokens >= need {
            self.micro_tokens -= need;
            Ok(())
        } else {
            let missing = need - self.micro_tokens;
            let per_sec = u64::from(self.rate) * 1_000_000;
            let seconds = missing.div_ceil(per_sec).max(1);
            Err(RetryAfter {
                seconds: u32::try_from(seconds).unwrap_or(u32::MAX),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_the_burst_then_refuses_until_refilled() {
        let mut b = TokenBucket::new(10, 10, 0);
        for _ in 0..10 {
            assert!(b.try_take(1, 0).is_ok());
        }
        assert_eq!(b.try_take(1, 0), Err(RetryAfter { seconds: 1 }));
        // 100 ms later one token is back.
        assert!(b.try_take(1, 100_000).is_ok());
        assert!(b.try_take(1, 100_000).is_err());
    }

    #[test]
    fn never_holds_more_than_the_burst() {
        let mut b = TokenBucket::new(5, 5, 0);
        assert!(b.try_take(5, 60_000_000).is_ok());
        assert!(b.try_take(1, 60_000_000).is_err());
    }

    #[test]
    fn a_large_request_waits_for_a_full_bucket() {
        let mut b = TokenBucket::new(100, 100, 0);
        assert!(b.try_take(1, 0).is_ok());
        assert!(b.try_take(1000, 0).is_err());
        assert!(b.try_take(1000, 1_000_000).is_ok());
    }
}
