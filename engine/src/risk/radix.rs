//! A least-significant-digit radix sort of `(price, account)` index keys by
//! price, for the bulk rebuild of the trigger index
//! ([`super::RiskBook::reevaluate_all`]). The rebuild stages keys in account
//! order, each account at most once per list, so a stable sort by price is
//! the `(price, account)` order the index needs; prices near the marks span
//! few bits, so two or three 11-bit passes replace a comparison sort's ~19.

use super::account::AccountId;

/// Bits per pass (a 2,048-entry count table on the stack).
const DIGIT_BITS: u32 = 11;
/// Below this many keys a comparison sort is cheaper than the count passes.
const SMALL: usize = 512;

/// Sorts `keys` by price, keeping the order of equal prices, which must be ascending
/// accounts, each at most once (`scratch` holds one copy: reserve it to `keys.len()`
/// and nothing is allocated).
pub fn sort_by_price(keys: &mut Vec<(i64, AccountId)>, scratch: &mut Vec<(i64, AccountId)>) {
    let n = keys.len();
    if n < SMALL {
        // Accounts are unique within a list, so (price, account) order is the stable price order;
        // the unstable sort allocates nothing (a stable one would, on the engine's path).
        keys.sort_unstable();
        return;
    }
    let (min, max) = keys.iter().fold((i64::MAX, i64::MIN), |(lo, hi), k| (lo.min(k.0), hi.max(k.0)));
    // Offsets from the minimum fit u64 whatever the span (i64 range: < 2^64).
    let span = (i128::from(max) - i128::from(min)) as u64;
    let bits = u64::BITS - span.leading_zeros();
    let passes = bits.div_ceil(DIGIT_BITS);
    scratch.clear();
    scratch.resize(n, (0, 0));
    let (mut from, mut to) = (keys, scratch);
    for pass in 0..passes {
        let shift = pass * DIGIT_BITS;
        let digit = |k: &(i64, AccountId)| (((i128::from(k.0) - i128::from(min)) as u64 >> shift) as usize) & ((1 << DIGIT_BITS) - 1);
        let mut starts = [0usize; 1 << DIGIT_BITS];
        for k in from.iter() {
            starts[digit(k)] += 1;
        }
        let mut sum = 0;
        for s in starts.iter_mut() {
            let c = *s;
            *s = sum;
            sum += c;
        }
        for k in from.iter() {
            let d = digit(k);
            to[starts[d]] = *k;
            starts[d] += 1;
        }
        std::mem::swap(&mut from, &mut to);
    }
    // After an odd number of passes the sorted keys sit in the scratch buffer.
    if passes % 2 == 1 {
        to.copy_from_slice(from);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The same order as sorting by (price, account) when accounts arrive ascending and once each.
        #[test]
        fn matches_a_comparison_sort(prices in proptest::collection::vec(any::<i64>(), 0..3000), narrow in any::<bool>()) {
            let mut keys: Vec<(i64, AccountId)> = prices.iter().enumerate()
                .map(|(i, &p)| (if narrow { 600_000 + p % 5_000 } else { p }, i as AccountId)).collect();
            let mut want = keys.clone();
            want.sort_unstable();
            let mut scratch = Vec::new();
            sort_by_price(&mut keys, &mut scratch);
            prop_assert_eq!(keys, want);
        }
    }

    #[test]
    fn extremes_and_ties_sort() {
        let mut keys: Vec<(i64, AccountId)> = (0..2000u32).map(|i| (if i % 3 == 0 { i64::MIN } else if i % 3 == 1 { i64::MAX } else { 7 }, i)).collect();
        let mut want = keys.clone();
        want.sort_unstable();
        let mut scratch = Vec::with_capacity(keys.len());
        sort_by_price(&mut keys, &mut scratch);
        assert_eq!(keys, want);
    }
}
