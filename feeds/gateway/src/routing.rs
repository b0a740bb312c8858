//! Engine output events → messages for the sessions they concern: execution
//! and take reports and private notices to the account's (or liquidator's)
//! sessions, market data and auctions to the sessions subscribed to them.

use gavel_feeds::wire::{report, AuctionNotice, BidReport, Event, EventKind, ExecReport, LedgerEntry, LiquidationNotice, MarkPrice, PositionNotice, PriceLevel, Side, TradePrint, Venue};

use crate::market_data::level;
use crate::protocol::{channel, side, AccountUpdate, AuctionUpdate, ExecutionReport, LiquidationNotice as LiquidationMsg, MarkPrice as MarkMsg, Message, PositionUpdate, TakeReport, Trade};
use crate::server::Gateway;

fn side_code(side: u8) -> u8 {
    match Side::from_u8(side) {
        Some(Side::Bid) => side::BUY,
        Some(Side::Ask) => side::SELL,
        _ => 0,
    }
}

impl Gateway {
    pub(crate) fn on_engine_output(&mut self, e: &Event) {
        let Some(kind) = e.kind() else { return };
        let own = e.venue == Venue::Gavel as u8;
        match kind {
            EventKind::ExecReport => self.exec_report(e),
            EventKind::BookLevel if own => {
                let l: PriceLevel = e.payload();
                let msg = self.md.publish(level(e.instrument, side_code(e.side), l.price, l.qty));
                self.broadcast(channel::MARKET_DATA, &msg, e);
            }
            EventKind::Trade if own => {
                let t: TradePrint = e.payload();
                let msg = self.md.publish(Message::Trade(Trade { md_sequence: 0, instrument: e.instrument, side: side_code(e.side), price: t.price, qty: t.qty, time_ns: e.receive_ns }));
                self.broadcast(channel::MARKET_DATA, &msg, e);
            }
            EventKind::MarkPrice if own => {
                let m: MarkPrice = e.payload();
                let msg = self.md.publish(Message::MarkPrice(MarkMsg { md_sequence: 0, instrument: e.instrument, price: m.mark, time_ns: e.receive_ns }));
                self.broadcast(channel::MARKET_DATA, &msg, e);
            }
            EventKind::AuctionUpdate => {
                let a: AuctionNotice = e.payload();
                let msg = Message::AuctionUpdate(AuctionUpdate { auction_id: e.sequence, instrument: e.instrument, code: e.flags, side: side_code(e.side), price: a.price, remaining: a.remaining, time_ns: e.receive_ns });
                self.broadcast(channel::AUCTIONS, &msg, e);
            }
            EventKind::LiquidationUpdate => {
                let n: LiquidationNotice = e.payload();
                let msg = Message::LiquidationNotice(LiquidationMsg { liquidation_id: e.sequence, instrument: e.instrument, stage: e.flags, side: side_code(e.side), price: n.price, qty: n.qty, time_ns: e.receive_ns });
                self.send_to_account(n.account, &msg, e);
            }
            EventKind::PositionUpdate => {
                let p: PositionNotice = e.payload();
                let msg = Message::PositionUpdate(PositionUpdate { instrument: e.instrument, position: p.position, time_ns: e.receive_ns });
                self.send_to_account(p.account, &msg, e);
            }
            EventKind::MarginCall => {
                let c: gavel_feeds::wire::MarginCallNotice = e.payload();
                let msg = Message::MarginCall(crate::protocol::MarginCall { instrument: e.instrument, liquidation_price: c.liquidation_price, distance_sigma_milli: c.distance_sigma_milli, time_ns: e.receive_ns });
                self.send_to_account(c.account, &msg, e);
            }
            EventKind::LedgerRecord => {
                let l: LedgerEntry = e.payload();
                let msg = Message::AccountUpdate(AccountUpdate { instrument: e.instrument, kind: e.flags, price: l.price, amount: l.amount, time_ns: e.receive_ns });
                self.send_to_account(l.accounts & u64::from(u32::MAX), &msg, e);
            }
            EventKind::BidReport => {
                let b: BidReport = e.payload();
                let liquidator = b.liquidator_and_auction & u64::from(u32::MAX);
                let accepted = e.flags & report::TYPE_MASK == report::FILL;
                let msg = Message::TakeReport(TakeReport {
                    take_id: e.sequence,
                    auction_id: b.liquidator_and_auction >> 32,
                    accepted: u8::from(accepted),
                    reason: if accepted { 0 } else { u16::from(e.flags >> report::REASON_SHIFT) },
                    price: b.price,
                    qty: b.qty,
                });
                self.counters.reports_out += 1;
                let targets = self.by_liquidator.get(&liquidator).cloned().unwrap_or_default();
                for i in targets {
                    self.deliver(i, &msg, e);
                }
            }
            EventKind::RoutedIntent => self.counters.routed_intents += 1,
            _ => {}
        }
    }

    fn exec_report(&mut self, e: &Event) {
        let r: ExecReport = e.payload();
        let exec_type = e.flags & report::TYPE_MASK;
        let detail = e.flags >> report::REASON_SHIFT;
        let msg = Message::ExecutionReport(ExecutionReport {
            client_order_id: e.sequence,
            instrument: e.instrument,
            exec_type,
            side: side_code(e.side),
            reason: u16::from(detail),
            price: r.price,
            qty: r.qty,
            time_ns: e.receive_ns,
        });
        self.counters.reports_out += 1;
        let Some(targets) = self.by_account.get(&r.account) else { return };
        let targets = targets.clone();
        let now_ticks = self.ticks.now_ticks();
        for i in targets {
            let Some(s) = self.sessions.get_mut(i).and_then(|s| s.as_mut()) else { continue };
            if let Some(open) = s.open_orders.get_mut(&e.sequence) {
                if open.sent_ticks != 0 {
                    let ns = self.ticks.ticks_to_ns(now_ticks.saturating_sub(open.sent_ticks)).max(1);
                    let _ = self.latency.round_trip.record(ns);
                    open.sent_ticks = 0;
                }
                let remove = match exec_type {
                    report::ACK => {
                        open.leaves = r.qty;
                        r.qty <= 0
                    }
                    report::FILL if detail == report::MAKER => {
                        open.leaves -= r.qty;
                        open.leaves <= 0
                    }
                    report::FILL => false,
                    _ => true,
                };
                if remove {
                    s.open_orders.remove(&e.sequence);
                }
            }
            self.deliver(i, &msg, e);
        }
    }

    fn send_to_account(&mut self, account: u64, msg: &Message, e: &Event) {
        let Some(targets) = self.by_account.get(&account) else { return };
        for i in targets.clone() {
            self.deliver(i, msg, e);
        }
    }

    fn broadcast(&mut self, channel_bit: u32, msg: &Message, e: &Event) {
        self.counters.market_data_out += u64::from(channel_bit == channel::MARKET_DATA);
        for i in 0..self.sessions.len() {
            if self.sessions[i].as_ref().is_some_and(|s| s.channels & channel_bit != 0 && s.identity.is_some()) {
                self.deliver(i, msg, e);
            }
        }
    }

    fn deliver(&mut self, index: usize, msg: &Message, e: &Event) {
        let Some(s) = self.sessions.get_mut(index).and_then(|s| s.as_mut()) else { return };
        s.send(msg);
        if e.publish_ticks != 0 {
            let ns = self.ticks.ticks_to_ns(self.ticks.now_ticks().saturating_sub(e.publish_ticks)).max(1);
            let _ = self.latency.output.record(ns);
        }
    }
}
