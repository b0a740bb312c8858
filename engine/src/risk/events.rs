//! Journal events produced by the risk engine: a plain enum the caller logs.

use super::account::AccountId;
use super::instrument::InstrumentId;

/// Something the risk engine decided or observed, for the journal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RiskEvent {
    /// Oracle: a venue's input is older than the staleness timeout and was excluded.
    VenueStale {
        /// Instrument.
        instrument: InstrumentId,
        /// Venue index in the oracle's configuration.
        venue: u8,
        /// Age of its last input, ns of event time.
        age_ns: u64,
    },
    /// Oracle: a venue's price is outside the outlier band around the median and was excluded.
    VenueOutlier {
        /// Instrument.
        instrument: InstrumentId,
        /// Venue index.
        venue: u8,
        /// Its price, ticks.
        price: i64,
        /// Median of the fresh venues, ticks.
        median: i64,
        /// Running count of this venue's exclusions as an outlier.
        count: u64,
    },
    /// Oracle: fewer fresh, in-band venues than the quorum: no liquidation on this price.
    CircuitBreaker {
        /// Instrument.
        instrument: InstrumentId,
        /// Usable venues.
        usable: u8,
        /// Required.
        quorum: u8,
    },
    /// Oracle: a new mark price.
    Mark {
        /// Instrument.
        instrument: InstrumentId,
        /// Smoothed mark, ticks.
        price: i64,
        /// False while the circuit breaker holds.
        liquidation_allowed: bool,
    },
    /// A liquidation is being settled: the plan, with its bankruptcy price.
    Liquidation {
        /// Account.
        account: AccountId,
        /// Instrument.
        instrument: InstrumentId,
        /// Lots to close.
        qty: i64,
        /// Position size before, signed.
        position_size: i64,
        /// Mark at planning, ticks.
        mark: i64,
        /// Bankruptcy price, ticks (`None`: no positive bankruptcy price).
        bankruptcy_price: Option<i64>,
        /// True for a full close.
        full_close: bool,
    },
    /// A fill against the market applied to an account.
    Fill {
        /// Account.
        account: AccountId,
        /// Instrument.
        instrument: InstrumentId,
        /// Signed lots (buy > 0).
        qty: i64,
        /// Ticks.
        price: i64,
        /// Realized PnL, quote units.
        realized: i128,
    },
    /// A liquidation penalty was charged and paid into the insurance fund.
    Penalty {
        /// Account.
        account: AccountId,
        /// Instrument.
        instrument: InstrumentId,
        /// Quote units.
        amount: i128,
        /// Fund balance after.
        fund_after: i128,
    },
    /// The insurance fund covered a deficit (a close worse than bankruptcy).
    InsuranceDraw {
        /// Account whose deficit was covered.
        account: AccountId,
        /// Quote units.
        amount: i128,
        /// Fund balance after.
        fund_after: i128,
    },
    /// A deficit nobody covered (recorded as socialized bad debt).
    BadDebt {
        /// Account.
        account: AccountId,
        /// Quote units.
        amount: i128,
        /// Cumulative bad debt after.
        total_after: i128,
    },
    /// Auto-deleveraging: `qty` lots of the bankrupt position were transferred
    /// to `counterparty` at the bankruptcy price.
    Adl {
        /// The liquidated account.
        account: AccountId,
        /// The deleveraged (profitable, opposing) account.
        counterparty: AccountId,
        /// Instrument.
        instrument: InstrumentId,
        /// Lots (positive) taken off each side.
        qty: i64,
        /// Bankruptcy price, ticks.
        price: i64,
    },
    /// ADL ran out of opposing profitable positions with `qty` lots left.
    AdlExhausted {
        /// The liquidated account.
        account: AccountId,
        /// Instrument.
        instrument: InstrumentId,
        /// Lots that could not be deleveraged.
        qty: i64,
    },
    /// Early warning: the unit would breach maintenance after a k-sigma
    /// adverse move over the horizon, though it is not liquidatable now.
    MarginCallWarning {
        /// Account.
        account: AccountId,
        /// Instrument of the position (cross: the worst one).
        instrument: InstrumentId,
        /// Health now × 10^4.
        health_e4: i128,
        /// Health after the shock × 10^4.
        shocked_health_e4: i128,
    },
}
