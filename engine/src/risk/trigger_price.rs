//! [`Trigger`]: where one position's liquidation starts, in ticks.
//!
//! A plain value: [`super::margin`] computes it, the trigger index
//! ([`super::trigger`]) sorts positions by it, and a position remembers the
//! trigger it is indexed under. It depends on nothing, so none of those
//! modules depends on another through it.

/// Where a position's liquidation starts, in ticks (see [`super::margin`]).
#[derive(serde::Serialize, serde::Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Trigger {
    /// Long: liquidatable iff `mark < price` (price may be ≤ 0: never).
    Long(i64),
    /// Short: liquidatable iff `mark > price` (price may be < 0: always).
    Short(i64),
}

impl Trigger {
    /// True when `mark` is past the trigger.
    #[inline]
    pub fn crossed(self, mark: i64) -> bool {
        match self {
            Trigger::Long(t) => mark < t,
            Trigger::Short(t) => mark > t,
        }
    }

    /// The liquidation price in ticks if it is a positive price.
    pub fn price(self) -> Option<i64> {
        let t = match self {
            Trigger::Long(t) | Trigger::Short(t) => t,
        };
        (t > 0).then_some(t)
    }
}
