//! Portfolio margin: maintenance credits between correlated instruments and between venues
//! (offset groups), and the safe bands that keep multi-position cross accounts off the
//! per-update path.
//!
//! ## Offsets
//! An offset group lists instruments whose moves largely cancel, e.g. BTCUSDT on gavel's own
//! book and the same contract mirrored from Binance (a venue offset, credit near 1), or
//! BTCUSDT and ETHUSDT (a correlation offset, a smaller credit). Within a cross account, with
//! `L` the maintenance of its long positions in the group and `S` that of its shorts (both at
//! their marks), the group's credit is `credit_rate × min(L, S)`, rounded down in the scaled
//! unit. The account's maintenance is the sum of the isolated requirements minus the credits:
//! never more than the sum, never less than the sum minus `credit_rate` times the hedged part,
//! never negative (a credit is at most the smaller side). `haircut = 1 − credit_rate`.
//!
//! ## Safe bands
//! An account's slack, `RATE_SCALE × equity − maintenance_scaled`, falls with an adverse move
//! of instrument `i`'s mark (down for a long, up for a short) by at most `sens_i = |size_i| ×
//! value_per_tick × (RATE_SCALE + highest rate_i)` per tick (maintenance is continuous in the
//! notional with non-decreasing bracket rates, and a credit moves by at most the maintenance
//! it offsets), and never falls with a favourable move: a long's rising mark adds
//! `RATE_SCALE` per tick-lot to equity and at most its rate (< 1) to maintenance, and a
//! short's falling mark adds equity and lowers its maintenance (the credit it may lose is a
//! share < 1 of that decrease). With slack `s ≥ 0`, the account stays solvent while no
//! mark moves adversely more than `h_i` ticks from where it was evaluated, for any `h` with
//! `Σ h_i × sens_i ≤ s − groups` (each group's rounding, < 1 scaled unit between two
//! evaluations, is paid for). The split gives every mark the same relative room, as if the
//! marks fell together: `h_i = ⌊(s − groups) × mark_i ÷ Σ_j sens_j × mark_j⌋` (rounded so
//! the sum stays within budget; [`BandRoom`] computes `r = (s − groups) ÷ Σ_j sens_j × mark_j` once
//! per account in fixed point and each `h_i = ⌊r × mark_i⌋` with one multiplication), so a small
//! leg beside a large one does not halve the large one's room. The risk book indexes each
//! position's adverse band edge like a trigger (`Long(low)` for a long, `Short(high)` for a
//! short); only an account whose edge a mark passes is re-evaluated, so a mark update costs
//! O(log n + accounts that passed their edge), with no mass recompute when the market trends.
//! An account found liquidatable is indexed at the current mark on both sides (any move
//! re-evaluates it). An inverse position's value is not linear in the mark, so its edge sits
//! at the mark: any adverse move of it re-evaluates the account, exactly.
//!
//! ## Which leg goes first
//! [`leg_to_close`] ranks a portfolio account's open positions by the maintenance a full
//! close at the mark releases (the position's own requirement less the credit it was earning
//! its group) per unit of expected impact (the caller's estimate of closing it, in quote
//! units), and picks the best; ties go to the lower instrument id. The ranking is exact
//! integer arithmetic (cross-multiplied ratios).

use super::account::Account;
use super::instrument::{Instrument, InstrumentId, InstrumentSet, RATE_SCALE};
use super::margin::Health;

/// Most offset groups per instrument set (the credit is summed on the stack).
pub const MAX_OFFSET_GROUPS: usize = 16;

/// Instruments whose offsetting positions earn a maintenance credit.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct OffsetGroup {
    /// Name, for reports and errors.
    pub name: String,
    /// Members (each instrument is in at most one group).
    pub instruments: Vec<InstrumentId>,
    /// Share of the hedged maintenance credited back, [`RATE_SCALE`] parts, in `[0, RATE_SCALE)`.
    pub credit_rate: i128,
}

/// The offset groups of an instrument set, with each instrument's group.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct Offsets {
    groups: Vec<OffsetGroup>,
    group_of: Vec<Option<u8>>,
}

impl Offsets {
    /// Validates `groups` against `instruments`: at most [`MAX_OFFSET_GROUPS`], two or more
    /// distinct members each, no instrument in two groups, one settlement asset per group,
    /// credit in `[0, 1)`. Errors name the group.
    pub fn new(groups: Vec<OffsetGroup>, instruments: &InstrumentSet) -> Result<Self, String> {
        if groups.len() > MAX_OFFSET_GROUPS {
            return Err(format!("at most {MAX_OFFSET_GROUPS} offset groups, not {}", groups.len()));
        }
        let mut group_of = vec![None; instruments.len()];
        for (g, group) in groups.iter().enumerate() {
            let name = &group.name;
            if !(0..RATE_SCALE).contains(&group.credit_rate) {
                return Err(format!("offset group {name:?}: credit must be in [0, 1) (haircut in (0, 1]), not {} × 10^-8", group.credit_rate));
            }
            if group.instruments.len() < 2 {
                return Err(format!("offset group {name:?}: needs at least two instruments"));
            }
            let asset = &instruments.get(group.instruments[0]).settlement_asset;
            for &i in &group.instruments {
                let slot = group_of.get_mut(usize::from(i)).ok_or_else(|| format!("offset group {name:?}: unknown instrument id {i}"))?;
                if slot.is_some() {
                    let symbol = &instruments.get(i).symbol;
                    return Err(format!("offset group {name:?}: {symbol} is already in a group (listed twice, or in two groups)"));
                }
                if &instruments.get(i).settlement_asset != asset {
                    return Err(format!("offset group {name:?}: members settle in different assets"));
                }
                *slot = Some(g as u8);
            }
        }
        Ok(Offsets { groups, group_of })
    }

    /// The groups.
    pub fn groups(&self) -> &[OffsetGroup] {
        &self.groups
    }

    /// True when no group is configured (maintenance is the plain sum).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// The group of `instrument`, if any.
    #[inline]
    pub fn group_of(&self, instrument: InstrumentId) -> Option<usize> {
        self.group_of.get(usize::from(instrument)).copied().flatten().map(usize::from)
    }
}

/// Per-group maintenance of longs and shorts, summed on the stack.
pub struct CreditTally {
    sides: [(i128, i128); MAX_OFFSET_GROUPS],
}

impl Default for CreditTally {
    fn default() -> Self {
        CreditTally { sides: [(0, 0); MAX_OFFSET_GROUPS] }
    }
}

impl CreditTally {
    /// Adds one position's scaled maintenance (`size` gives its side).
    #[inline]
    pub fn add(&mut self, offsets: &Offsets, instrument: InstrumentId, size: i64, maintenance_scaled: i128) {
        if let Some(g) = offsets.group_of(instrument) {
            let side = &mut self.sides[g];
            if size > 0 {
                side.0 += maintenance_scaled;
            } else if size < 0 {
                side.1 += maintenance_scaled;
            }
        }
    }

    /// Σ over groups of `credit_rate × min(L, S) ÷ RATE_SCALE`, rounded down (scaled units).
    #[inline]
    pub fn credit(&self, offsets: &Offsets) -> i128 {
        let mut credit = 0;
        for (g, group) in offsets.groups.iter().enumerate() {
            let (long, short) = self.sides[g];
            credit += scaled_share(group.credit_rate, long.min(short).max(0));
        }
        credit
    }
}

/// `⌊rate × amount ÷ RATE_SCALE⌋` for `rate` in `[0, RATE_SCALE)` and `amount ≥ 0`, exact:
/// with `amount = q × RATE_SCALE + r` it is `rate × q + ⌊rate × r ÷ RATE_SCALE⌋`, whose
/// divisions are by a constant (multiplications) when `amount` fits 64 bits.
#[inline]
fn scaled_share(rate: i128, amount: i128) -> i128 {
    match u64::try_from(amount) {
        Ok(a) => {
            const SCALE: u64 = RATE_SCALE as u64;
            let (q, r) = (a / SCALE, a % SCALE);
            // rate < 10^8 and r < 10^8: the product fits u64.
            rate * i128::from(q) + i128::from(rate as u64 * r / SCALE)
        }
        Err(_) => rate * amount / RATE_SCALE,
    }
}

/// How fast the slack of `size` lots of `ins` can fall per adverse tick: `|size| ×
/// value_per_tick × (RATE_SCALE + top bracket rate)`; `None` for an inverse position (no
/// linear bound).
#[inline]
fn sensitivity_in(ins: &Instrument, size: i64) -> Option<i128> {
    if ins.is_inverse() {
        return None;
    }
    let top_rate = ins.brackets.last().map_or(0, |b| b.maintenance_rate);
    Some(i128::from(size).abs() * ins.quote_per_tick_lot * (RATE_SCALE + top_rate))
}

/// `sens × mark`, `None` on overflow; a plain 64 × 64-bit product when `sens` fits 64 bits
/// (it cannot overflow then), the checked 128-bit one otherwise.
#[inline]
fn times_mark(sens: i128, mark: i64) -> Option<i128> {
    match i64::try_from(sens) {
        Ok(s) => Some(i128::from(s) * i128::from(mark)),
        Err(_) => sens.checked_mul(i128::from(mark)),
    }
}

/// A cross account's health ([`super::margin::cross_health`]) and its joint sensitivity
/// `Σ sensitivity × mark` over its open linear positions (the slack one unit of relative
/// move of every mark at once would cost, [`BandRoom`]'s denominator; `None` on
/// overflow, and then the bands are empty), in one pass over its positions. `None` if an
/// open position's mark is missing.
pub fn health_and_joint(instruments: &InstrumentSet, marks: &[Option<i64>], account: &Account) -> Option<(Health, Option<i128>)> {
    let mut joint = Some(0i128);
    let health = super::margin::unit_health_visiting(instruments, marks, account.wallet, account.positions.iter(), None, |p, ins, mark| {
        if let (Some(sum), Some(sens)) = (joint, sensitivity_in(ins, p.size)) {
            joint = times_mark(sens, mark).and_then(|v| sum.checked_add(v));
        }
    })?;
    Some((health, joint))
}

/// Fractional bits of [`BandRoom`]'s fixed-point relative room.
const ROOM_BITS: u32 = 32;

/// A portfolio account's safe-band room, computed once per evaluation: the relative room
/// `r = (slack − groups) ÷ joint` every mark gets (the split that assumes the marks move
/// together), held as `⌊(slack − groups) × 2^32 ÷ joint⌋`. One division per account; each
/// position's half-width is then a multiplication ([`BandRoom::half_width`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BandRoom {
    /// `⌊r × 2^ROOM_BITS⌋`, 0 when the account has no room.
    fixed: i128,
}

impl BandRoom {
    /// No room: every band edge sits at the mark.
    pub const NONE: BandRoom = BandRoom { fixed: 0 };

    /// The room of an account with `slack = RATE_SCALE × equity − maintenance_scaled` and
    /// `joint` sensitivity ([`health_and_joint`]); none when the slack does not cover the
    /// groups' rounding or `joint` is unknown (overflow) or not positive.
    pub fn new(instruments: &InstrumentSet, slack: i128, joint: Option<i128>) -> Self {
        let budget = slack - instruments.offsets.groups.len() as i128;
        let Some(joint) = joint.filter(|&j| j > 0) else { return BandRoom::NONE };
        if budget <= 0 {
            return BandRoom::NONE;
        }
        let fixed = match budget.checked_mul(1 << ROOM_BITS) {
            Some(scaled) => scaled / joint,
            // A budget past 2^95: whole units of room only (less, never more).
            None => (budget / joint).saturating_mul(1 << ROOM_BITS),
        };
        BandRoom { fixed }
    }

    /// The adverse room (ticks) of the band on a position of `ins` at `mark`:
    /// `⌊r × mark⌋`, at most the exact `⌊(slack − groups) × mark ÷ joint⌋` and at least one
    /// tick less for marks below 2^32, capped at `i64::MAX / 4`. 0 for an inverse position
    /// (its value is not linear in the mark: the edge sits at the mark) or a mark ≤ 0.
    #[inline]
    pub fn half_width(&self, ins: &Instrument, mark: i64) -> i64 {
        if self.fixed == 0 || mark <= 0 || ins.is_inverse() {
            return 0;
        }
        const CAP: i64 = i64::MAX / 4;
        match self.fixed.checked_mul(i128::from(mark)) {
            Some(v) => (v >> ROOM_BITS).min(i128::from(CAP)) as i64,
            // Past i128: the room exceeds 2^95 ticks, far beyond the cap.
            None => CAP,
        }
    }
}

/// The open position of `account` to liquidate first: the one whose full close frees the
/// most maintenance per unit of `impact(instrument, size)` (quote units, the expected cost
/// of closing `size` lots; clamped to at least 1). `None` if the account holds no open
/// position or a mark is missing.
pub fn leg_to_close(
    instruments: &InstrumentSet,
    marks: &[Option<i64>],
    account: &Account,
    mut impact: impl FnMut(InstrumentId, i64) -> i128,
) -> Option<InstrumentId> {
    let before = super::margin::cross_health(instruments, marks, account)?;
    let mut best: Option<(InstrumentId, i128, i128)> = None;
    for p in account.positions.iter().filter(|p| p.size != 0) {
        let after = super::margin::unit_health_resized(instruments, marks, account.wallet, account.positions.iter(), Some((p.instrument, 0)))?;
        // Freed maintenance in quote units (a close never adds maintenance: the credit it
        // gives up is at most a share of its own requirement).
        let freed = (before.maintenance_scaled - after.maintenance_scaled).max(0) / RATE_SCALE;
        let cost = impact(p.instrument, p.size).max(1);
        let better = match best {
            None => true,
            // freed / cost > best_freed / best_cost, cross-multiplied (both sides ≥ 0).
            Some((bi, bf, bc)) => {
                let (mine, theirs) = (freed.saturating_mul(bc), bf.saturating_mul(cost));
                mine > theirs || (mine == theirs && p.instrument < bi)
            }
        };
        if better {
            best = Some((p.instrument, freed, cost));
        }
    }
    best.map(|b| b.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const LINEAR: &str = "[[instrument]]\nsymbol = \"BTCUSDT\"\ntick_size = \"0.1\"\nlot_size = \"0.001\"\nmin_size = \"0.001\"\n\
        brackets = [{ notional_cap = \"inf\", maintenance_rate = \"0.005\", max_leverage = 100 }]\n";

    #[test]
    fn no_room_without_budget_or_joint() {
        let set = InstrumentSet::parse(LINEAR, "test").unwrap();
        let ins = set.get(0);
        assert_eq!(BandRoom::new(&set, 0, Some(10)).half_width(ins, 500_000), 0);
        assert_eq!(BandRoom::new(&set, -5, Some(10)).half_width(ins, 500_000), 0);
        assert_eq!(BandRoom::new(&set, 1_000, None).half_width(ins, 500_000), 0);
        assert_eq!(BandRoom::new(&set, 1_000, Some(0)).half_width(ins, 500_000), 0);
        // Room 1,000 ÷ 2^22 of the mark: ⌊119.2⌋ ticks at 500,000 (exact in fixed point).
        assert_eq!(BandRoom::new(&set, 1_000, Some(1 << 22)).half_width(ins, 500_000), 119);
        assert_eq!(BandRoom::new(&set, 1_000, Some(1 << 22)).half_width(ins, 0), 0);
    }

    proptest! {
        /// The split division equals the direct one on both paths (amount within and past 64 bits).
        #[test]
        fn scaled_share_is_the_floor_of_the_product(
            rate in 0..RATE_SCALE,
            amount in prop_oneof![0i128..1_000_000_000, any::<u64>().prop_map(i128::from), 0i128..(1i128 << 90)],
        ) {
            prop_assert_eq!(scaled_share(rate, amount), rate * amount / RATE_SCALE);
        }

        /// The 64-bit product path agrees with the checked 128-bit product, overflow included.
        #[test]
        fn times_mark_is_the_checked_product(
            sens in prop_oneof![0i128..=i128::from(i64::MAX), 0i128..=i128::MAX],
            mark in any::<i64>(),
        ) {
            prop_assert_eq!(times_mark(sens, mark), sens.checked_mul(i128::from(mark)));
        }

        /// A band's half-width is never more than the exact `⌊budget × mark ÷ joint⌋` (the
        /// safe-band bound) and, below 2^32 ticks and a 2^95 budget, at most one tick less.
        #[test]
        fn band_room_is_the_exact_split_rounded_down(
            budget in prop_oneof![1i128..1_000_000, 1i128..(1i128 << 80), (1i128 << 95)..(1i128 << 110)],
            joint in prop_oneof![1i128..1_000_000, 1i128..(1i128 << 100)],
            mark in prop_oneof![1i64..1_000_000, 1i64..(1i64 << 32), 1i64..i64::MAX],
        ) {
            let set = InstrumentSet::parse(LINEAR, "test").unwrap();
            let groups = set.offsets.groups.len() as i128;
            let half = BandRoom::new(&set, budget + groups, Some(joint)).half_width(set.get(0), mark);
            let exact = budget.checked_mul(i128::from(mark)).map_or(i128::MAX, |v| v / joint).min(i128::from(i64::MAX / 4));
            prop_assert!(half >= 0 && i128::from(half) <= exact, "half {half} exact {exact}");
            if mark < (1 << 32) && budget < (1 << 95) {
                prop_assert!(i128::from(half) + 1 >= exact, "half {half} exact {exact}");
            }
        }
    }
}
