//! Orders into gavel's own book (clients, market makers, liquidations), bids
//! of liquidators on auctions, and routed intents to external venues with
//! their fills.
//!
//! A client order is checked in the engine before it reaches the book: known
//! account, instrument, side, quantity and price; a cross-margin account not in
//! liquidation; reduce-only capped by the position; otherwise initial margin
//! for the position it could reach (position + resting same-side orders + the
//! order) at the worse of its price and the mark. Book ids are
//! `account << 32 | client order id`, so a client's ids are its own.

use gavel_feeds::wire::{auction_update, order_flags, report, ClientCancel, ClientOrder, Event, EventKind, ExecReport, LiquidatorBid, OrderRef, RoutedIntent, Side, TradePrint, Venue};

use super::liquidation::{Discard, Phase};
use super::output::{build, Header};
use super::waterfall::{Counterparty, Route};
use super::{Engine, OutputSink};
use crate::auction::depth::{depth_within, depth_within_up_to, within_limit};
use crate::auction::dutch::AuctionStatus;
use crate::auction::slicing::{limit_price, split_by_depth};
use crate::book::{BookEvent, NewOrder, OrderType, Reject, Stp};
use crate::risk::{margin, AccountId, InstrumentId, MarginMode};

/// Reject reason codes of execution reports (bits 3..=7 of `flags`).
pub mod reject_code {
    /// The account does not exist.
    pub const UNKNOWN_ACCOUNT: u8 = 1;
    /// The instrument does not exist, or is inverse (the engine loop trades
    /// linear contracts only).
    pub const UNKNOWN_INSTRUMENT: u8 = 2;
    /// Side is neither buy nor sell.
    pub const BAD_SIDE: u8 = 3;
    /// Quantity ≤ 0, or a limit price ≤ 0.
    pub const BAD_QUANTITY_OR_PRICE: u8 = 4;
    /// Client order id above 2^32 − 1.
    pub const BAD_ORDER_ID: u8 = 5;
    /// The account is being liquidated.
    pub const LIQUIDATING: u8 = 6;
    /// Isolated-margin accounts cannot trade in the own book.
    pub const ISOLATED: u8 = 7;
    /// A reduce-only order that would not reduce.
    pub const REDUCE_ONLY: u8 = 8;
    /// Not enough initial margin.
    pub const MARGIN: u8 = 9;
    /// A take from an id that is not a configured liquidator.
    pub const NOT_A_LIQUIDATOR: u8 = 25;
    /// A take on an auction that is not running.
    pub const NO_RUNNING_AUCTION: u8 = 26;
    /// A take of nothing: zero lots asked, or none the fund backs at the current price.
    pub const NOTHING_TO_TAKE: u8 = 27;
    /// A take whose worst price is better than the auction's current price.
    pub const PRICE_NOT_REACHED: u8 = 28;
    /// The book refused it: 10 + the book's reason (see [`book_reason`]).
    pub const BOOK_BASE: u8 = 10;

    /// The code of a book rejection.
    pub fn book_reason(reject: crate::book::Reject) -> u8 {
        use crate::book::Reject::*;
        BOOK_BASE
            + match reject {
                PoolFull => 0,
                LevelsFull => 1,
                DuplicateId => 2,
                UnknownOrder => 3,
                InvalidQty => 4,
                InvalidPrice => 5,
                InvalidSide => 6,
                InvalidFlags => 7,
                PostOnlyWouldCross => 8,
                FokUnfilled => 9,
                NoLiquidity => 10,
                ReduceOnly => 11,
                InvalidAccount => 12,
            }
    }
}

/// Book ids of liquidation orders have this bit set (client ids never do).
const LIQUIDATION_ORDER: u64 = 1 << 63;

/// Bits of an intent id: liquidation id, round, child index.
const INTENT_ROUND_SHIFT: u32 = 4;
const INTENT_ID_SHIFT: u32 = 12;

fn side_index(side: Side) -> usize {
    usize::from(side == Side::Ask)
}

impl Engine {
    #[allow(clippy::too_many_arguments)]
    fn exec_report(&self, out: &mut impl OutputSink, kind: u8, reason: u8, instrument: u32, side: Side, client_id: u64, account: u64, price: i64, qty: i64) {
        out.emit(&build(
            self.now,
            Header {
                kind: EventKind::ExecReport,
                venue: Venue::Gavel,
                side,
                flags: kind | (reason << report::REASON_SHIFT),
                instrument,
                sequence: client_id,
            },
            ExecReport { account, price, qty },
        ));
    }

    fn reject(&mut self, out: &mut impl OutputSink, event: &Event, reason: u8) {
        let order: ClientOrder = event.payload();
        self.metrics.orders_rejected += 1;
        let side = event.side().unwrap_or(Side::None);
        self.exec_report(out, report::REJECT, reason, event.instrument, side, event.sequence, order.account, order.price, order.qty);
    }

    /// Initial margin check: can `account` hold `target` lots of `instrument` (valued at
    /// the worse of `price` and the mark: the higher for a linear contract, the lower for an
    /// inverse one, whose coin notional grows as the price falls) next to its other positions?
    fn margin_allows(&self, account: AccountId, instrument: InstrumentId, target: i64, price: i64) -> bool {
        let book = &self.ledger.book;
        let acc = book.account(account);
        let marks = book.marks();
        let set = book.instruments();
        let Some(health) = margin::cross_health(set, marks, acc) else { return false };
        let mut required = 0i128;
        for p in acc.positions.iter().filter(|p| p.size != 0 && p.instrument != instrument) {
            let Some(mark) = marks[usize::from(p.instrument)] else { return false };
            let ins = set.get(p.instrument);
            required += ins.initial_margin(ins.notional(p.size, mark));
        }
        let ins = set.get(instrument);
        let value_at = match marks[usize::from(instrument)] {
            Some(m) if ins.is_inverse() => m.min(price).max(1),
            Some(m) => m.max(price),
            None => price,
        };
        required += ins.initial_margin(ins.notional(target, value_at));
        health.equity >= required
    }

    pub(crate) fn on_client_order(&mut self, event: &Event, out: &mut impl OutputSink) {
        let order: ClientOrder = event.payload();
        let instrument = event.instrument as usize;
        let Some(account) = crate::risk::account::account_from_wire(order.account) else {
            return self.reject(out, event, reject_code::UNKNOWN_ACCOUNT);
        };
        if account as usize >= self.accounts.len() {
            return self.reject(out, event, reject_code::UNKNOWN_ACCOUNT);
        }
        if instrument >= self.instrument_count() || !self.tradable[instrument] {
            return self.reject(out, event, reject_code::UNKNOWN_INSTRUMENT);
        }
        let side = match event.side() {
            Some(s @ (Side::Bid | Side::Ask)) => s,
            _ => return self.reject(out, event, reject_code::BAD_SIDE),
        };
        let kind = event.flags & order_flags::TYPE_MASK;
        let order_type = match kind {
            order_flags::TYPE_LIMIT => OrderType::Limit,
            order_flags::TYPE_IOC => OrderType::Ioc,
            order_flags::TYPE_FOK => OrderType::Fok,
            order_flags::TYPE_MARKET => OrderType::Market,
            _ => return self.reject(out, event, reject_code::book_reason(Reject::InvalidFlags)),
        };
        if order.qty <= 0 || (order_type != OrderType::Market && (order.price <= 0 || order.price > crate::auction::fixed::MAX_PRICE_TICKS)) {
            return self.reject(out, event, reject_code::BAD_QUANTITY_OR_PRICE);
        }
        if event.sequence > u64::from(u32::MAX) {
            return self.reject(out, event, reject_code::BAD_ORDER_ID);
        }
        if self.accounts[account as usize].active != 0 {
            return self.reject(out, event, reject_code::LIQUIDATING);
        }
        let acc = self.ledger.book.account(account);
        if acc.mode != MarginMode::Cross {
            return self.reject(out, event, reject_code::ISOLATED);
        }
        let id = InstrumentId::try_from(instrument).unwrap_or(InstrumentId::MAX);
        let position = acc.position(id).map_or(0, |p| p.size);
        let signed = |q: i64| if side == Side::Bid { q } else { -q };
        let reduce_only = event.flags & order_flags::REDUCE_ONLY != 0;
        let mut qty = order.qty;
        if reduce_only {
            let reducible = if signed(1).signum() == -position.signum() { position.abs() } else { 0 };
            qty = qty.min(reducible);
            if qty == 0 {
                return self.reject(out, event, reject_code::REDUCE_ONLY);
            }
        } else {
            let resting = self.accounts[account as usize].resting[side_index(side)];
            let target = position.saturating_add(signed(resting.saturating_add(qty)));
            let reference = if order_type == OrderType::Market { self.ledger.book.mark(id).unwrap_or(0) } else { order.price };
            if !self.margin_allows(account, id, target, reference) {
                return self.reject(out, event, reject_code::MARGIN);
            }
        }
        let new = NewOrder {
            id: (crate::risk::account::account_to_wire(account) << 32) | event.sequence,
            account,
            side,
            order_type,
            price: order.price,
            qty,
            post_only: event.flags & order_flags::POST_ONLY != 0,
            reduce_only: false,
            stp: Stp::from_bits(event.flags >> order_flags::STP_SHIFT),
        };
        let mut events = std::mem::take(&mut self.book_events);
        events.clear();
        let result = self.books[instrument].submit(new, &mut |e| events.push(e));
        match result {
            Err(reject) => {
                self.book_events = events;
                self.reject(out, event, reject_code::book_reason(reject))
            }
            Ok(outcome) => {
                self.metrics.orders_accepted += 1;
                self.exec_report(out, report::ACK, 0, event.instrument, side, event.sequence, order.account, outcome.price, outcome.resting);
                self.accounts[account as usize].resting[side_index(side)] += outcome.resting;
                self.apply_book_events(id, &events, None, out);
                if outcome.resting > 0 {
                    self.level_update(out, instrument, side, outcome.price);
                }
                self.book_events = events;
                if outcome.cancelled > 0 {
                    self.exec_report(out, report::CANCEL, 0, event.instrument, side, event.sequence, order.account, outcome.price, outcome.cancelled);
                }
            }
        }
    }

    /// Settles the fills and side-effect cancels of one book request. `liquidation`: the
    /// slot whose order was the taker (its fills go through the liquidation waterfall).
    fn apply_book_events(&mut self, instrument: InstrumentId, events: &[BookEvent], liquidation: Option<usize>, out: &mut impl OutputSink) {
        self.settle_book_events(instrument, events, liquidation, out);
        if self.config.session_outputs {
            // One level update per price touched (a walk's fills at one level are adjacent).
            let mut last: Option<(Side, i64)> = None;
            for e in events {
                let touched = match *e {
                    BookEvent::Fill(f) => (f.taker_side.opposite(), f.price),
                    BookEvent::Cancelled { side, price, .. } => (side, price),
                };
                if last != Some(touched) {
                    self.level_update(out, usize::from(instrument), touched.0, touched.1);
                    last = Some(touched);
                }
            }
        }
    }

    fn settle_book_events(&mut self, instrument: InstrumentId, events: &[BookEvent], liquidation: Option<usize>, out: &mut impl OutputSink) {
        for e in events {
            match *e {
                BookEvent::Fill(f) => {
                    let maker = f.maker_account;
                    self.accounts[maker as usize].resting[side_index(f.taker_side.opposite())] -= f.qty;
                    let maker_client = f.maker_id & u64::from(u32::MAX);
                    self.metrics.own_trades += 1;
                    match liquidation {
                        Some(slot) => {
                            self.settle_liquidation_fill(slot, Counterparty::Account(maker), f.qty, f.price, Route::OwnBook, out);
                        }
                        None => {
                            let taker = f.taker_account;
                            let notional = self.ledger.book.instruments().get(instrument).notional(f.qty, f.price);
                            let taker_fee = Self::fee(notional, self.config.taker_fee_rate);
                            let maker_fee = Self::fee(notional, self.config.maker_fee_rate);
                            let signed = if f.taker_side == Side::Bid { f.qty } else { -f.qty };
                            self.ledger.fill_between(taker, maker, instrument, signed, f.price, taker_fee, maker_fee);
                            self.ledger_record(out, gavel_feeds::wire::ledger_record::FILL, instrument, taker, Some(maker), f.price, i128::from(signed));
                            for (account, fee) in [(taker, taker_fee), (maker, maker_fee)] {
                                if fee != 0 {
                                    self.ledger_record(out, gavel_feeds::wire::ledger_record::FEE, instrument, account, None, f.price, fee);
                                }
                            }
                            self.exec_report(out, report::FILL, report::TAKER, u32::from(instrument), f.taker_side, f.taker_id & u64::from(u32::MAX), crate::risk::account::account_to_wire(f.taker_account), f.price, f.qty);
                        }
                    }
                    self.exec_report(out, report::FILL, report::MAKER, u32::from(instrument), f.taker_side.opposite(), maker_client, crate::risk::account::account_to_wire(f.maker_account), f.price, f.qty);
                    out.emit(&build(
                        self.now,
                        Header { kind: EventKind::Trade, venue: Venue::Gavel, side: f.taker_side, flags: 0, instrument: u32::from(instrument), sequence: self.metrics.own_trades },
                        TradePrint { price: f.price, qty: f.qty, trade_id: self.metrics.own_trades },
                    ));
                }
                BookEvent::Cancelled { id, account, qty, side, price, .. } => {
                    if id & LIQUIDATION_ORDER == 0 {
                        if let Some(state) = self.accounts.get_mut(account as usize) {
                            let r = &mut state.resting[side_index(side)];
                            *r = (*r - qty).max(0);
                        }
                        self.exec_report(out, report::CANCEL, 0, u32::from(instrument), side, id & u64::from(u32::MAX), crate::risk::account::account_to_wire(account), price, qty);
                    }
                }
            }
        }
    }

    pub(crate) fn on_client_cancel(&mut self, event: &Event, out: &mut impl OutputSink) {
        let cancel: ClientCancel = event.payload();
        let instrument = event.instrument as usize;
        let valid = instrument < self.instrument_count() && cancel.account < self.accounts.len() as u64 && cancel.order_id <= u64::from(u32::MAX);
        let id = (cancel.account << 32) | cancel.order_id;
        let view = if valid { self.books[instrument].order(id) } else { None };
        let Some(view) = view else {
            self.metrics.orders_rejected += 1;
            self.exec_report(out, report::REJECT, reject_code::book_reason(Reject::UnknownOrder), event.instrument, Side::None, cancel.order_id, cancel.account, 0, 0);
            return;
        };
        if let Ok(qty) = self.books[instrument].cancel(id) {
            let r = &mut self.accounts[cancel.account as usize].resting[side_index(view.side)];
            *r = (*r - qty).max(0);
            self.exec_report(out, report::CANCEL, 0, event.instrument, view.side, cancel.order_id, cancel.account, view.price, qty);
            self.level_update(out, instrument, view.side, view.price);
        }
    }

    /// Cancels every resting order of an account in one instrument (`u32::MAX`: all).
    pub(crate) fn on_client_mass_cancel(&mut self, event: &Event, out: &mut impl OutputSink) {
        let cancel: ClientCancel = event.payload();
        let known = crate::risk::account::account_from_wire(cancel.account).filter(|&a| (a as usize) < self.accounts.len());
        let all = event.instrument == u32::MAX;
        let (Some(account), true) = (known, all || (event.instrument as usize) < self.instrument_count()) else {
            self.metrics.orders_rejected += 1;
            let reason = if known.is_none() { reject_code::UNKNOWN_ACCOUNT } else { reject_code::UNKNOWN_INSTRUMENT };
            self.exec_report(out, report::REJECT, reason, event.instrument, Side::None, event.sequence, cancel.account, 0, 0);
            return;
        };
        let mut events = std::mem::take(&mut self.book_events);
        for i in 0..self.instrument_count() {
            if !all && i != event.instrument as usize {
                continue;
            }
            events.clear();
            self.books[i].mass_cancel(account, &mut |e| events.push(e));
            let id = InstrumentId::try_from(i).unwrap_or(InstrumentId::MAX);
            self.apply_book_events(id, &events, None, out);
        }
        self.book_events = events;
    }

    /// Cancels every resting order of `account` (on a liquidation trigger).
    pub(crate) fn cancel_all_orders(&mut self, account: AccountId, out: &mut impl OutputSink) {
        if self.accounts[account as usize].resting == [0, 0] {
            return;
        }
        let mut events = std::mem::take(&mut self.book_events);
        for i in 0..self.instrument_count() {
            events.clear();
            self.books[i].mass_cancel(account, &mut |e| events.push(e));
            let id = InstrumentId::try_from(i).unwrap_or(InstrumentId::MAX);
            self.apply_book_events(id, &events, None, out);
        }
        self.book_events = events;
        self.accounts[account as usize].resting = [0, 0];
    }

    /// Stage [`super::Stage::OwnBook`]: an IOC for the remaining lots, limited at the
    /// bankruptcy price (or a venue rule's limit, as far as the fund backs it), against
    /// resting client and market-maker orders.
    pub(crate) fn run_own_book(&mut self, slot: usize, out: &mut impl OutputSink) {
        let rule_limit = self.backed_rule_limit(slot);
        let Some(liq) = self.pool[slot].as_ref() else { return };
        let i = usize::from(liq.instrument);
        let limit = match (rule_limit.or(liq.bankruptcy), liq.sign > 0) {
            (Some(bp), _) => bp.clamp(1, crate::auction::fixed::MAX_PRICE_TICKS),
            (None, true) => 1,
            (None, false) => crate::auction::fixed::MAX_PRICE_TICKS,
        };
        let order = NewOrder {
            id: LIQUIDATION_ORDER | liq.id,
            account: liq.account,
            side: liq.close_side(),
            order_type: OrderType::Ioc,
            price: limit,
            qty: liq.remaining,
            post_only: false,
            reduce_only: false,
            stp: Stp::CancelNewest,
        };
        let (tried, instrument) = (liq.remaining, liq.instrument);
        let mut events = std::mem::take(&mut self.book_events);
        events.clear();
        let _ = self.books[i].submit(order, &mut |e| events.push(e));
        self.apply_book_events(instrument, &events, Some(slot), out);
        self.book_events = events;
        self.close_attempt(slot, tried, out);
    }

    pub(crate) fn on_liquidator_bid(&mut self, event: &Event, out: &mut impl OutputSink) {
        let bid: LiquidatorBid = event.payload();
        let liquidator = self.config.liquidators.iter().find(|(id, _)| *id == bid.liquidator()).map(|&(_, a)| a);
        let slot = (u64::from(bid.auction()) % self.pool.len() as u64) as usize;
        let open = self.pool[slot]
            .as_ref()
            .is_some_and(|l| l.id as u32 == bid.auction() && l.phase == Phase::AuctionRunning && l.auction.is_some());
        let (Some(taker), true) = (liquidator, open) else {
            self.metrics.bids_rejected += 1;
            let reason = if liquidator.is_none() { reject_code::NOT_A_LIQUIDATOR } else { reject_code::NO_RUNNING_AUCTION };
            self.bid_report(out, event, report::REJECT | (reason << report::REASON_SHIFT), 0, bid.qty);
            return;
        };
        let now = self.now;
        let (n, v) = (self.instrument_count(), self.config.venues.len());
        let mark = self.current_mark(slot);
        if let Some(a) = self.pool[slot].as_mut().and_then(|l| l.auction.as_mut()) {
            // The hard limit follows the mark of the bid's event time.
            a.set_mark(mark);
        }
        let Some(liq) = self.pool[slot].as_ref() else { return };
        let i = usize::from(liq.instrument);
        let Some(auction) = liq.auction.as_ref() else { return };
        let price = Self::with_views(&self.mirrors, n, v, i, |views| auction.price(now, views));
        let qty = self.backed_qty(slot, price, bid.qty.min(liq.remaining));
        let sign = liq.sign;
        let current = self.ledger.book.account(taker).position(liq.instrument).map_or(0, |p| p.size);
        if qty <= 0 || !self.margin_allows(taker, liq.instrument, current.saturating_add(sign * qty), price) {
            self.metrics.bids_rejected += 1;
            let reason = if qty <= 0 { reject_code::NOTHING_TO_TAKE } else { reject_code::MARGIN };
            self.bid_report(out, event, report::REJECT | (reason << report::REASON_SHIFT), 0, bid.qty);
            return;
        }
        let Some(auction) = self.pool[slot].as_mut().and_then(|l| l.auction.as_mut()) else { return };
        let mirrors = &self.mirrors;
        let taken = Self::with_views(mirrors, n, v, i, |views| auction.take(now, bid.liquidator(), qty, bid.max_price, views, &mut Discard));
        let status = auction.status();
        match taken {
            Ok(_) => {
                self.metrics.bids_accepted += 1;
                let settled = self.settle_liquidation_fill(slot, Counterparty::Account(taker), qty, price, Route::Auction, out);
                self.bid_report(out, event, report::FILL, price, settled);
                self.auction_notice(out, slot, auction_update::TAKEN, price);
            }
            Err(_) => {
                self.metrics.bids_rejected += 1;
                self.bid_report(out, event, report::REJECT | (reject_code::PRICE_NOT_REACHED << report::REASON_SHIFT), price, bid.qty);
            }
        }
        if status != AuctionStatus::Running || self.pool[slot].as_ref().is_some_and(|l| l.remaining == 0) {
            self.end_auction(slot, out);
        }
    }

    /// Sends one round of intents; false when nothing could be sent and no round is left.
    pub(crate) fn send_route_round(&mut self, slot: usize, out: &mut impl OutputSink) -> bool {
        let Some(liq) = self.pool[slot].as_ref() else { return false };
        let route = self.policy.route_for(liq.auction_stopped);
        let (i, side, sign, remaining, id, round) = (usize::from(liq.instrument), liq.lot_side(), liq.sign, liq.remaining, liq.id, liq.round);
        let rule_limit = self.backed_rule_limit(slot);
        let mark = self.current_mark(slot);
        let (n, v) = (self.instrument_count(), self.config.venues.len());
        let floor = self.fund_bounded_limit(slot, remaining);
        // The price limit: `limit_bps` from the touch (market: none), never past what the fund backs.
        let touch = Self::with_views(&self.mirrors, n, v, i, |views| {
            views.iter().filter_map(|view| view.best(crate::auction::depth::side_hit(side)).map(|l| l.0)).reduce(|a, b| if sign > 0 { a.max(b) } else { a.min(b) })
        })
        .unwrap_or(mark);
        let preemptive = self.pool[slot].as_ref().is_some_and(|l| l.preemptive);
        let mut limit = match rule_limit {
            // A pre-emptive reduction keeps the route's own limit, never past the liquidation price.
            Some(rule) if preemptive && route.limit_bps > 0 => {
                let own = limit_price(touch, side, route.limit_bps);
                if within_limit(side, own, rule) {
                    own
                } else {
                    rule
                }
            }
            Some(rule) => rule,
            None if route.limit_bps == 0 => floor,
            None => limit_price(touch, side, route.limit_bps),
        };
        if !within_limit(side, limit, floor) {
            limit = floor;
        }
        let children = Self::with_views(&self.mirrors, n, v, i, |views| {
            if route.deepest_only {
                let mut best = (0usize, 0i64);
                for (k, view) in views.iter().enumerate() {
                    let depth = depth_within(*view, side, limit);
                    if depth > best.1 {
                        best = (k, depth);
                    }
                }
                let mut c = crate::auction::slicing::ChildOrders::default();
                if best.1 > 0 {
                    c.orders[0] = crate::auction::slicing::ChildOrder { venue: best.0, qty: remaining, limit };
                    c.len = 1;
                }
                c
            } else {
                // Each venue's depth within the limit. The round sends at most
                // `remaining`, a `depth_share_ppm` share of the depth: with one venue the
                // walk may stop once it has seen enough for that (the split is the same);
                // with several, the split is pro rata over their whole depth.
                let needed = crate::risk::decimal::div_ceil(i128::from(remaining) * 1_000_000, i128::from(route.depth_share_ppm.max(1)));
                let cap = if views.len() == 1 { i64::try_from(needed).unwrap_or(i64::MAX) } else { i64::MAX };
                let mut depths = [0i64; crate::auction::depth::MAX_VENUES];
                for (d, view) in depths.iter_mut().zip(views.iter()) {
                    *d = depth_within_up_to(*view, side, limit, cap);
                }
                let depth: i64 = depths[..views.len()].iter().sum();
                // At least one lot when there is any depth within the limit; none when there
                // is none (a zero-fill round: nothing is ever priced past the limit).
                let share = (i128::from(depth) * i128::from(route.depth_share_ppm) / 1_000_000) as i64;
                let qty = remaining.min(share.max(depth.min(1)));
                if qty == 0 {
                    crate::auction::slicing::ChildOrders::default()
                } else {
                    split_by_depth(views, side, qty, limit, &depths[..views.len()])
                }
            }
        });
        let mut sent = 0u32;
        for (k, child) in children.as_slice().iter().enumerate().filter(|(_, c)| c.qty > 0) {
            let venue = self.config.venues[child.venue];
            let intent = (id << INTENT_ID_SHIFT) | (u64::from(round & 0xff) << INTENT_ROUND_SHIFT) | k as u64;
            out.emit(&build(
                self.now,
                Header { kind: EventKind::RoutedIntent, venue, side: crate::auction::depth::side_hit(side).opposite(), flags: 0, instrument: i as u32, sequence: intent },
                RoutedIntent { liquidation: id, limit: child.limit, qty: child.qty },
            ));
            sent += 1;
        }
        let now = self.now;
        let Some(liq) = self.pool[slot].as_mut() else { return false };
        if sent > 0 {
            liq.open_intents = sent;
            liq.intent_limit = limit;
            liq.phase = Phase::RouteWaiting;
            self.arm(slot, now.saturating_add(route.timeout_ns));
            return true;
        }
        // Nothing within the limit: a zero-fill round; wait for the books if rounds are left.
        liq.round += 1;
        let more = liq.round < route.slices;
        self.close_attempt(slot, remaining, out);
        if more {
            if let Some(liq) = self.pool[slot].as_mut() {
                liq.phase = Phase::RouteSleeping;
            }
            self.arm(slot, now.saturating_add(route.slice_interval_ns.max(1)));
            return true;
        }
        false
    }

    /// The venue rule's order limit of liquidation `slot`, no worse than what the insurance
    /// fund can back (`None`: no rule limit).
    pub(crate) fn backed_rule_limit(&self, slot: usize) -> Option<i64> {
        let liq = self.pool[slot].as_ref()?;
        let rule = liq.rule_limit?;
        let floor = self.fund_bounded_limit(slot, liq.remaining);
        Some(if within_limit(liq.lot_side(), rule, floor) { rule } else { floor })
    }

    /// Every intent of the round is done (filled, cancelled or timed out).
    pub(crate) fn route_round_done(&mut self, slot: usize, out: &mut impl OutputSink) {
        let tried = self.pool[slot].as_ref().map_or(0, |l| l.remaining);
        self.close_attempt(slot, tried, out);
        let route = self.policy.route_for(self.pool[slot].as_ref().is_some_and(|l| l.auction_stopped));
        let (slices, interval) = (route.slices, route.slice_interval_ns);
        let now = self.now;
        let open = self.open_lots(slot);
        let Some(liq) = self.pool[slot].as_mut() else { return };
        liq.round += 1;
        liq.remaining = liq.remaining.min(open);
        if liq.remaining > 0 && liq.round < slices {
            liq.phase = Phase::RouteSleeping;
            self.arm(slot, now.saturating_add(interval.max(1)));
        } else {
            self.next_stage(slot, out);
        }
    }

    pub(crate) fn on_intent_fill(&mut self, event: &Event, out: &mut impl OutputSink) {
        let fill: OrderRef = event.payload();
        let intent = event.sequence;
        let id = intent >> INTENT_ID_SHIFT;
        let round = ((intent >> INTENT_ROUND_SHIFT) & 0xff) as u32;
        let slot = (id % self.pool.len() as u64) as usize;
        let venue = self.venue_slot(event.venue).map(|k| self.config.venues[k]);
        let live = self.pool[slot].as_ref().is_some_and(|l| l.id == id && l.phase == Phase::RouteWaiting && (l.round & 0xff) == round && l.open_intents > 0);
        let (Some(venue), true) = (venue, live) else {
            self.metrics.stale_intent_fills += 1;
            return;
        };
        let beyond_limit = self.pool[slot].as_ref().is_some_and(|l| if l.sign > 0 { fill.price < l.intent_limit } else { fill.price > l.intent_limit });
        if fill.qty < 0 || (fill.qty > 0 && (fill.price <= 0 || beyond_limit)) {
            // Not booked: a venue report that breaks the intent's terms is bad input, counted.
            self.metrics.stale_intent_fills += 1;
            return;
        }
        if fill.qty > 0 {
            let settled = self.settle_liquidation_fill(slot, Counterparty::External(venue), fill.qty, fill.price, Route::External(venue), out);
            if settled < fill.qty {
                // More than the intent asked for: the excess is not booked, and counted.
                self.metrics.stale_intent_fills += 1;
            }
        }
        if event.flags & 1 != 0 {
            if let Some(liq) = self.pool[slot].as_mut() {
                liq.open_intents -= 1;
                if liq.open_intents == 0 {
                    self.disarm(slot);
                    self.route_round_done(slot, out);
                }
            }
        }
    }
}
