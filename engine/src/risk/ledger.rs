//! The ledger: every movement of money between accounts, the market, the
//! insurance fund, the fee pool, the funding pool and bad debt, with an exact
//! conservation check.
//!
//! ## Conservation
//! Each account (and the market, the pseudo-account on the other side of
//! every fill that is not an ADL transfer) has a cash-like balance
//! `cash = wallet + Σ isolated_margin − Σ entry_notional`: a fill of `qty`
//! at `price` changes it by exactly `−fill_value(qty, price)` (realized PnL
//! minus the released entry notional; linear `−qty·price·mult`, inverse
//! `qty × value ÷ price` rounded toward zero, see
//! [`super::instrument::Instrument::fill_value`]), and `fill_value` is
//! antisymmetric, so fills cancel pairwise to the unit. Every other flow is a
//! transfer with two legs. Hence, to the quote unit, after every event:
//!
//! ```text
//! Σ_accounts cash + market cash + insurance fund + fee pool + funding pool − bad debt
//!     = deposits + insurance seed
//! ```
//!
//! and the net position of every instrument over accounts and market is 0.
//! [`Ledger::check_conservation`] returns the left side minus the right side.

use super::account::{Account, AccountId, MarginMode};
use super::book::RiskBook;
use super::decimal::div_floor;
use super::events::RiskEvent;
use super::instrument::{InstrumentId, RATE_SCALE};
use super::insurance::{adl_ranking, InsuranceFund};
use super::liquidation::LiquidationRequest;
use super::penalty::penalty_amount;

/// One execution of a liquidation order: `qty` lots (> 0) at `price` ticks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LiquidationFill {
    /// Lots closed, > 0.
    pub qty: i64,
    /// Ticks.
    pub price: i64,
}

/// What a settled liquidation did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LiquidationOutcome {
    /// Lots closed by fills.
    pub filled: i64,
    /// Lots the fund could not cover (sent to ADL).
    pub uncovered: i64,
    /// Lots actually deleveraged (≤ `uncovered`; less only if ADL ran out).
    pub deleveraged: i64,
    /// Penalty charged.
    pub penalty: i128,
    /// Drawn from the insurance fund.
    pub fund_draw: i128,
    /// Recorded as bad debt.
    pub bad_debt: i128,
}

/// The risk book plus every balance outside the accounts.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
pub struct Ledger {
    /// Accounts, marks, triggers.
    pub book: RiskBook,
    /// The external counterparty of all non-ADL fills.
    market: Account,
    /// The insurance fund.
    pub fund: InsuranceFund,
    fee_pool: i128,
    funding_pool: i128,
    bad_debt: i128,
    deposits: i128,
    fund_seed: i128,
}

impl Ledger {
    /// A ledger over `book` whose current balances count as deposits, with
    /// an insurance fund seeded by `fund_seed`. Positions already in the book
    /// are taken as opened against the market at their entry.
    pub fn new(book: RiskBook, fund_seed: i128) -> Self {
        let mut market = Account::new(MarginMode::Cross, 0);
        for acc in book.accounts() {
            for p in &acc.positions {
                let m = market.position_mut(p.instrument);
                m.size -= p.size;
                m.entry_notional -= p.entry_notional;
            }
        }
        let deposits = book.accounts().iter().map(Account::cash).sum::<i128>() + market.cash();
        Ledger {
            book,
            market,
            fund: InsuranceFund::new(fund_seed),
            fee_pool: 0,
            funding_pool: 0,
            bad_debt: 0,
            deposits,
            fund_seed,
        }
    }

    /// Fee pool balance.
    pub fn fee_pool(&self) -> i128 {
        self.fee_pool
    }

    /// Cumulative socialized bad debt.
    pub fn bad_debt(&self) -> i128 {
        self.bad_debt
    }

    /// Deposits (negative: withdraws) into the account's cross wallet.
    pub fn deposit(&mut self, account: AccountId, amount: i128) {
        self.book.update_account(account, |a| a.wallet += amount);
        self.deposits += amount;
    }

    /// Moves `amount` from the wallet to the isolated margin of a position.
    pub fn assign_isolated(&mut self, account: AccountId, instrument: InstrumentId, amount: i128) {
        self.book.update_account(account, |a| {
            a.wallet -= amount;
            a.position_mut(instrument).isolated_margin += amount;
        });
    }

    /// A fill against the market with a `fee` (≥ 0) to the fee pool.
    pub fn trade(
        &mut self,
        account: AccountId,
        instrument: InstrumentId,
        qty: i64,
        price: i64,
        fee: i128,
        events: &mut Vec<RiskEvent>,
    ) -> i128 {
        let realized = self.book.apply_fill(account, instrument, qty, price);
        let ins = self.book.instruments().get(instrument);
        let m = self.market.position_mut(instrument).apply_fill(ins, -qty, price);
        self.market.wallet += m;
        if fee != 0 {
            self.book.update_account(account, |a| {
                *a.balance_mut(instrument) -= fee;
                a.fees += fee;
            });
            self.fee_pool += fee;
        }
        events.push(RiskEvent::Fill {
            account,
            instrument,
            qty,
            price,
            realized,
        });
        realized
    }

    /// Funding at `rate` ([`RATE_SCALE`] parts) of notional at the mark (in
    /// the settlement asset: coin notional for inverse): longs pay shorts when positive. Each payment is rounded down (toward −∞); the
    /// market pays or receives like an account; the rounding residue stays in
    /// the funding pool.
    pub fn funding(&mut self, instrument: InstrumentId, rate: i128) {
        let Some(mark) = self.book.mark(instrument) else { return };
        let pay = |ledger: &Self, size: i64| {
            let ins = ledger.book.instruments().get(instrument);
            div_floor(ins.signed_notional(size, mark) * rate, RATE_SCALE)
        };
        for id in 0..self.book.accounts().len() as AccountId {
            let Some(p) = self.book.account(id).position(instrument) else {
                continue;
            };
            if p.size == 0 {
                continue;
            }
            let amount = pay(self, p.size);
            self.book.update_account(id, |a| {
                *a.balance_mut(instrument) -= amount;
                a.funding -= amount;
            });
            self.funding_pool += amount;
        }
        if let Some(size) = self.market.position(instrument).map(|p| p.size) {
            let amount = pay(self, size);
            self.market.wallet -= amount;
            self.funding_pool += amount;
        }
    }

    /// What closing `q` lots of a position of sign `sign` at `price` costs
    /// the unit against closing them at the bankruptcy price `bp` (≥ 0):
    /// the fund's share of that fill. Cash of a close is `fill_value(q·sign, ·)`.
    fn close_deficit(&self, instrument: InstrumentId, sign: i64, q: i64, price: i64, bp: i64) -> i128 {
        let ins = self.book.instruments().get(instrument);
        (ins.fill_value(sign * q, bp) - ins.fill_value(sign * q, price)).max(0)
    }

    /// The most lots (≤ `q`) whose [`Self::close_deficit`] is at most `avail`, and that deficit.
    fn coverable(&self, instrument: InstrumentId, sign: i64, q: i64, price: i64, bp: Option<i64>, avail: i128) -> (i64, i128) {
        let Some(bp) = bp else { return (q, 0) };
        let ins = self.book.instruments().get(instrument);
        if !ins.is_inverse() {
            let per_lot = i128::from((sign * (bp - price)).max(0)) * ins.quote_per_tick_lot;
            if per_lot <= 0 {
                return (q, 0);
            }
            let ok = (avail / per_lot).min(i128::from(q)) as i64;
            return (ok, i128::from(ok) * per_lot);
        }
        if self.close_deficit(instrument, sign, q, price, bp) <= avail {
            return (q, self.close_deficit(instrument, sign, q, price, bp));
        }
        // Binary search: the deficit grows with q (up to one unit of rounding).
        let (mut lo, mut hi) = (0i64, q);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if self.close_deficit(instrument, sign, mid, price, bp) <= avail {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        (lo, self.close_deficit(instrument, sign, lo, price, bp))
    }

    /// Settles a liquidation: applies `fills` in order (each capped by what
    /// is left of `request.qty`), charges the penalty into the insurance
    /// fund (never more than the unit's remaining positive equity), lets the
    /// fund back every fill worse than the bankruptcy price, and when the
    /// fund cannot back a fill, deleverages exactly the uncovered lots at the
    /// bankruptcy price. A flat unit left with a negative balance is made
    /// whole by the fund, the rest being bad debt.
    pub fn settle_liquidation(
        &mut self,
        request: &LiquidationRequest,
        fills: &[LiquidationFill],
        events: &mut Vec<RiskEvent>,
    ) -> LiquidationOutcome {
        let (account, instrument) = (request.account, request.instrument);
        let sign: i64 = if request.position_size > 0 { 1 } else { -1 };
        let mut out = LiquidationOutcome::default();
        events.push(RiskEvent::Liquidation {
            account,
            instrument,
            qty: request.qty,
            position_size: request.position_size,
            mark: request.mark,
            bankruptcy_price: request.bankruptcy_price,
            full_close: request.full_close,
        });
        let mut remaining = request
            .qty
            .min(self.book.account(account).position(instrument).map_or(0, |p| p.size.abs()));
        let mut committed = 0i128;
        for fill in fills {
            let q = fill.qty.min(remaining);
            if q <= 0 {
                continue;
            }
            let avail = (self.fund.balance() - committed).max(0);
            let (q_ok, deficit) = self.coverable(instrument, sign, q, fill.price, request.bankruptcy_price, avail);
            if q_ok > 0 {
                self.trade(account, instrument, -sign * q_ok, fill.price, 0, events);
                committed += deficit;
                out.filled += q_ok;
                let notional = self.book.instruments().get(instrument).notional(q_ok, fill.price);
                out.penalty += self.charge_penalty(account, instrument, notional, request.penalty_rate, events);
                remaining -= q_ok;
            }
            if q_ok < q {
                out.uncovered = remaining;
                break;
            }
        }
        if out.uncovered > 0 {
            let bp = request.bankruptcy_price.expect("a deficit implies a bankruptcy price");
            out.deleveraged = self.auto_deleverage(account, instrument, out.uncovered, bp, events);
        }
        let (draw, bad) = self.cover_deficit(account, instrument, events);
        out.fund_draw = draw;
        out.bad_debt = bad;
        out
    }

    /// A trade between two accounts of the ledger (own book, auction, backstop):
    /// `qty` signed lots for `taker` (the other side gets `−qty`) at `price`, with
    /// each side's fee (negative: a rebate) moved to or from the fee pool.
    /// Returns the realized PnL of `(taker, maker)`.
    #[allow(clippy::too_many_arguments)]
    pub fn fill_between(
        &mut self,
        taker: AccountId,
        maker: AccountId,
        instrument: InstrumentId,
        qty: i64,
        price: i64,
        taker_fee: i128,
        maker_fee: i128,
    ) -> (i128, i128) {
        let a = self.book.apply_fill(taker, instrument, qty, price);
        let b = self.book.apply_fill(maker, instrument, -qty, price);
        for (account, fee) in [(taker, taker_fee), (maker, maker_fee)] {
            if fee != 0 {
                self.book.update_account(account, |acc| {
                    *acc.balance_mut(instrument) -= fee;
                    acc.fees += fee;
                });
                self.fee_pool += fee;
            }
        }
        (a, b)
    }

    /// Moves `amount` (> 0) from the insurance fund into the balance backing
    /// `account`'s position in `instrument`; returns what the fund could pay.
    pub fn fund_cover(&mut self, account: AccountId, instrument: InstrumentId, amount: i128) -> i128 {
        if amount <= 0 {
            return 0;
        }
        let paid = self.fund.draw(amount);
        if paid > 0 {
            self.book.adjust_balance(account, instrument, paid);
        }
        paid
    }

    /// If the unit holding `instrument` is flat with a negative balance, the fund
    /// covers it and the rest is bad debt; returns `(fund draw, bad debt)`.
    pub fn settle_flat_deficit(&mut self, account: AccountId, instrument: InstrumentId, events: &mut Vec<RiskEvent>) -> (i128, i128) {
        self.cover_deficit(account, instrument, events)
    }

    /// Charges the liquidation penalty on `notional` at `rate` (never more than the
    /// unit's positive equity) into the insurance fund; returns the amount.
    pub fn charge_penalty(
        &mut self,
        account: AccountId,
        instrument: InstrumentId,
        notional: i128,
        rate: i128,
        events: &mut Vec<RiskEvent>,
    ) -> i128 {
        let equity = self.book.health(account, instrument).map_or(0, |h| h.equity);
        let amount = penalty_amount(notional, rate).min(equity.max(0));
        if amount <= 0 {
            return 0;
        }
        self.book.update_account(account, |a| {
            *a.balance_mut(instrument) -= amount;
            a.fees += amount;
        });
        self.fund.deposit(amount);
        events.push(RiskEvent::Penalty {
            account,
            instrument,
            amount,
            fund_after: self.fund.balance(),
        });
        amount
    }

    /// Transfers `qty` lots of `account`'s position to the best-ranked
    /// opposing profitable positions at `price` (the bankruptcy price).
    /// Returns the lots deleveraged (less than `qty` only if the queue ran out).
    pub fn auto_deleverage(
        &mut self,
        account: AccountId,
        instrument: InstrumentId,
        qty: i64,
        price: i64,
        events: &mut Vec<RiskEvent>,
    ) -> i64 {
        let size = self.book.account(account).position(instrument).map_or(0, |p| p.size);
        let mut remaining = qty.min(size.abs());
        if remaining == 0 {
            return 0;
        }
        let sign = size.signum();
        for (cp, _) in adl_ranking(&self.book, instrument, size > 0, account) {
            let cp_size = self.book.account(cp).position(instrument).map_or(0, |p| p.size);
            let take = remaining.min(cp_size.abs());
            if take == 0 {
                continue;
            }
            self.book.apply_fill(account, instrument, -sign * take, price);
            self.book.apply_fill(cp, instrument, sign * take, price);
            events.push(RiskEvent::Adl {
                account,
                counterparty: cp,
                instrument,
                qty: take,
                price,
            });
            remaining -= take;
            if remaining == 0 {
                break;
            }
        }
        if remaining > 0 {
            events.push(RiskEvent::AdlExhausted {
                account,
                instrument,
                qty: remaining,
            });
        }
        qty.min(size.abs()) - remaining
    }

    /// If the unit holding `instrument` is flat and its balance negative,
    /// draws the deficit from the fund; what the fund lacks is bad debt.
    fn cover_deficit(&mut self, account: AccountId, instrument: InstrumentId, events: &mut Vec<RiskEvent>) -> (i128, i128) {
        let acc = self.book.account(account);
        let balance = match acc.mode {
            MarginMode::Cross if acc.open_positions() == 0 => acc.wallet,
            MarginMode::Isolated if acc.position(instrument).is_some_and(|p| p.size == 0) => {
                acc.position(instrument).map_or(0, |p| p.isolated_margin)
            }
            _ => return (0, 0),
        };
        if balance >= 0 {
            return (0, 0);
        }
        let deficit = -balance;
        let draw = self.fund.draw(deficit);
        if draw > 0 {
            events.push(RiskEvent::InsuranceDraw {
                account,
                amount: draw,
                fund_after: self.fund.balance(),
            });
        }
        let bad = deficit - draw;
        if bad > 0 {
            // Bad debt is socialised: it leaves the ledger only through this balance.
            self.bad_debt += bad;
            events.push(RiskEvent::BadDebt {
                account,
                amount: bad,
                total_after: self.bad_debt,
            });
        }
        self.book.update_account(account, |a| *a.balance_mut(instrument) += deficit);
        (draw, bad)
    }

    /// Pays up to `amount` of keeper incentives from the insurance fund to the
    /// liquidators (who are part of the market side), returning what was paid
    /// (never more than the fund holds). A transfer between two balances of the
    /// conservation identity, so it keeps it.
    pub fn pay_keeper_from_fund(&mut self, amount: i128) -> i128 {
        if amount <= 0 {
            return 0;
        }
        let paid = self.fund.draw(amount.min(self.fund.balance().max(0)));
        self.market.wallet += paid;
        paid
    }

    /// Left side minus right side of the conservation identity (module docs):
    /// 0 when the books balance to the quote unit.
    pub fn check_conservation(&self) -> i128 {
        let accounts: i128 = self.book.accounts().iter().map(Account::cash).sum();
        accounts + self.market.cash() + self.fund.balance() + self.fee_pool + self.funding_pool
            - self.bad_debt
            - self.deposits
            - self.fund_seed
    }

    /// Net position of `instrument` over all accounts and the market (must be 0).
    pub fn net_position(&self, instrument: InstrumentId) -> i64 {
        let accounts: i64 = self
            .book
            .accounts()
            .iter()
            .filter_map(|a| a.position(instrument))
            .map(|p| p.size)
            .sum();
        accounts + self.market.position(instrument).map_or(0, |p| p.size)
    }
}
