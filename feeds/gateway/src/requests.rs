//! Client requests → engine input events. The gateway checks what the wire
//! can get wrong (logon, direction, role, enum values, rate, open-order cap);
//! the engine checks the rest (account, instrument, price, margin, reduce-only)
//! and answers with execution reports.

use gavel_feeds::wire::{order_flags, ClientCancel, ClientOrder, Event, EventKind, LiquidatorBid, Side, Venue};

use crate::protocol::{channel, order_flag, order_type, reason, role, side, Direction, FrameHeader, Heartbeat, LogonAck, LogonReject, Message, Stats};
use crate::server::Gateway;
use crate::session::{CloseReason, Identity};

/// An order the session has open: lots resting (or asked, before the ack) and when
/// its request was read (clock ticks; 0 once answered).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenOrder {
    /// Lots still resting.
    pub leaves: i64,
    /// Ticks when the request was read, 0 after the first report.
    pub sent_ticks: u64,
}

fn wire_side(code: u8) -> Option<Side> {
    match code {
        side::BUY => Some(Side::Bid),
        side::SELL => Some(Side::Ask),
        _ => None,
    }
}

fn type_bits(code: u8) -> Option<u8> {
    Some(match code {
        order_type::LIMIT => order_flags::TYPE_LIMIT,
        order_type::MARKET => order_flags::TYPE_MARKET,
        order_type::IOC => order_flags::TYPE_IOC,
        order_type::FOK => order_flags::TYPE_FOK,
        _ => return None,
    })
}

impl Gateway {
    pub(crate) fn on_message(&mut self, index: usize, header: FrameHeader, message: Message) {
        if message.direction() == Direction::ToClient {
            return self.protocol_error(index, &header, reason::WRONG_DIRECTION);
        }
        let identity = self.session(index).identity;
        let Some(id) = identity else {
            return match message {
                Message::Logon(m) => self.logon(index, &header, m.key_id, m.signature),
                Message::Heartbeat(_) => self.heartbeat(index),
                _ => self.protocol_error(index, &header, reason::NOT_LOGGED_IN),
            };
        };
        let now = self.clock.now_ns();
        match message {
            Message::Logon(_) => return self.protocol_error(index, &header, reason::ALREADY_LOGGED_IN),
            Message::Heartbeat(_) => return self.heartbeat(index),
            Message::Logout(_) => {
                let s = self.session(index);
                s.send(&Message::Logout(crate::protocol::Logout { reason: 0 }));
                s.closing = Some(CloseReason::Logout);
                return;
            }
            _ => {}
        }
        if !self.session(index).bucket.try_take(now.max(0) as u64) {
            self.counters.rate_limited += 1;
            return self.refuse(index, &header, reason::RATE_LIMITED);
        }
        let trades = matches!(id.role, role::TRADER | role::LIQUIDATOR);
        match message {
            Message::NewOrder(m) => {
                if !trades {
                    return self.protocol_error(index, &header, reason::NOT_PERMITTED);
                }
                let (Some(s), Some(bits), true) = (wire_side(m.side), type_bits(m.order_type), m.flags & !(order_flag::POST_ONLY | order_flag::REDUCE_ONLY) == 0) else {
                    return self.protocol_error(index, &header, reason::BAD_FIELD);
                };
                let mut flags = bits;
                if m.flags & order_flag::POST_ONLY != 0 {
                    flags |= order_flags::POST_ONLY;
                }
                if m.flags & order_flag::REDUCE_ONLY != 0 {
                    flags |= order_flags::REDUCE_ONLY;
                }
                self.send_order(index, &header, id, m.client_order_id, m.instrument, s, flags, m.price, m.qty, now);
            }
            Message::CancelOrder(m) => {
                if !trades {
                    return self.protocol_error(index, &header, reason::NOT_PERMITTED);
                }
                let cancel = Event::new(EventKind::ClientCancel, Venue::Gavel, m.instrument, ClientCancel { account: id.account, order_id: m.client_order_id, reserved: 0 }).with_times(m.client_order_id, 0, now);
                self.send_to_engine_or_refuse(index, &header, cancel);
            }
            Message::CancelReplace(m) => {
                if !trades {
                    return self.protocol_error(index, &header, reason::NOT_PERMITTED);
                }
                let Some(s) = wire_side(m.side) else { return self.protocol_error(index, &header, reason::BAD_FIELD) };
                let cancel = Event::new(EventKind::ClientCancel, Venue::Gavel, m.instrument, ClientCancel { account: id.account, order_id: m.orig_client_order_id, reserved: 0 }).with_times(m.orig_client_order_id, 0, now);
                if self.send_to_engine_or_refuse(index, &header, cancel) {
                    self.send_order(index, &header, id, m.client_order_id, m.instrument, s, order_flags::TYPE_LIMIT, m.price, m.qty, now);
                }
            }
            Message::MassCancel(m) => {
                if !trades {
                    return self.protocol_error(index, &header, reason::NOT_PERMITTED);
                }
                let cancel = Event::new(EventKind::ClientMassCancel, Venue::Gavel, m.instrument, ClientCancel { account: id.account, order_id: 0, reserved: 0 }).with_times(header.sequence, 0, now);
                self.send_to_engine_or_refuse(index, &header, cancel);
            }
            Message::LiquidatorTake(m) => {
                if id.role != role::LIQUIDATOR {
                    return self.protocol_error(index, &header, reason::NOT_PERMITTED);
                }
                let (Ok(auction), Ok(liquidator)) = (u32::try_from(m.auction_id), u32::try_from(id.key_id)) else {
                    return self.protocol_error(index, &header, reason::BAD_FIELD);
                };
                let bid = Event::new(EventKind::LiquidatorBid, Venue::Gavel, 0, LiquidatorBid::new(liquidator, auction, m.max_price, m.qty)).with_times(m.take_id, 0, now);
                self.send_to_engine_or_refuse(index, &header, bid);
            }
            Message::Subscribe(m) => {
                let allowed = match id.role {
                    role::LIQUIDATOR | role::ADMIN => channel::MARKET_DATA | channel::AUCTIONS,
                    _ => channel::MARKET_DATA,
                };
                if m.channels & !allowed != 0 {
                    return self.protocol_error(index, &header, reason::NOT_PERMITTED);
                }
                self.session(index).channels = m.channels;
            }
            Message::SnapshotRequest(m) => {
                let mut out = Vec::new();
                if !self.md.snapshot(m.instrument, |msg| out.push(msg)) {
                    return self.protocol_error(index, &header, reason::BAD_FIELD);
                }
                let s = self.session(index);
                for msg in &out {
                    s.send(msg);
                }
            }
            Message::ReplayRequest(m) => {
                let held: Option<Vec<Message>> = self.md.replay(m.from_sequence, m.to_sequence).map(|it| it.collect());
                match held {
                    Some(list) => {
                        let s = self.session(index);
                        for msg in &list {
                            s.send(msg);
                        }
                    }
                    None => self.refuse(index, &header, reason::REPLAY_UNAVAILABLE),
                }
            }
            Message::ImpliedVol(m) => {
                if id.role != role::ADMIN {
                    return self.protocol_error(index, &header, reason::NOT_PERMITTED);
                }
                if !(1..=gavel_feeds::wire::MAX_IMPLIED_VOL_E6).contains(&m.vol_e6) {
                    return self.protocol_error(index, &header, reason::BAD_FIELD);
                }
                let quote = gavel_feeds::wire::ImpliedVolQuote { vol_e6: m.vol_e6, tenor_ns: 0, reserved: 0 };
                let event = Event::new(EventKind::ImpliedVol, Venue::Gavel, m.instrument, quote).with_times(header.sequence, 0, now);
                self.send_to_engine_or_refuse(index, &header, event);
            }
            Message::StatsRequest(_) => {
                if id.role != role::ADMIN {
                    return self.protocol_error(index, &header, reason::NOT_PERMITTED);
                }
                let stats = self.stats();
                self.session(index).send(&Message::Stats(stats));
            }
            _ => self.protocol_error(index, &header, reason::WRONG_DIRECTION),
        }
    }

    /// The counters as a [`Stats`] message.
    pub(crate) fn stats(&self) -> Stats {
        let c = &self.counters;
        let (input, output) = self.ring_occupancy();
        Stats {
            sessions: self.session_count() as u32,
            logons: c.logons,
            protocol_errors: c.protocol_errors,
            rate_limited: c.rate_limited,
            slow_disconnects: c.slow_disconnects,
            orders_in: c.orders_in,
            reports_out: c.reports_out,
            input_ring_used: input.min(u64::from(u32::MAX)) as u32,
            output_ring_used: output.min(u64::from(u32::MAX)) as u32,
        }
    }

    fn heartbeat(&mut self, index: usize) {
        let now = self.clock.now_ns();
        self.session(index).send(&Message::Heartbeat(Heartbeat { time_ns: now }));
    }

    fn logon(&mut self, index: usize, header: &FrameHeader, key_id: u64, signature: [u8; 32]) {
        let nonce = self.session(index).nonce;
        let Some(key) = self.keys.verify(key_id, &nonce, &signature).cloned() else {
            self.counters.logon_failures += 1;
            let s = self.session(index);
            s.send(&Message::LogonReject(LogonReject { reason: reason::BAD_CREDENTIALS }));
            s.closing = Some(CloseReason::LogonFailed);
            let _ = header;
            return;
        };
        self.counters.logons += 1;
        let heartbeat_ms = self.config.heartbeat_ms;
        let s = self.session(index);
        s.identity = Some(Identity { key_id: key.id, account: key.account, role: key.role });
        s.send(&Message::LogonAck(LogonAck { account: key.account, role: key.role, heartbeat_ms }));
        self.by_account.entry(key.account).or_default().push(index);
        if key.role == role::LIQUIDATOR {
            self.by_liquidator.entry(key.id).or_default().push(index);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn send_order(&mut self, index: usize, header: &FrameHeader, id: Identity, client_order_id: u64, instrument: u32, side: Side, flags: u8, price: i64, qty: i64, now: i64) {
        let cap = self.config.max_open_orders;
        let s = self.session(index);
        if s.open_orders.len() >= cap && !s.open_orders.contains_key(&client_order_id) {
            self.counters.open_order_limited += 1;
            return self.refuse(index, header, reason::TOO_MANY_OPEN_ORDERS);
        }
        let mut order = Event::new(EventKind::ClientOrder, Venue::Gavel, instrument, ClientOrder { account: id.account, price, qty }).with_side(side).with_times(client_order_id, 0, now);
        order.flags = flags;
        let ticks = self.ticks.now_ticks();
        if self.send_to_engine_or_refuse(index, header, order) {
            self.session(index).open_orders.insert(client_order_id, OpenOrder { leaves: qty.max(0), sent_ticks: ticks });
        }
    }

    /// Pushes a request to the engine; refuses it when the engine's ring is full.
    fn send_to_engine_or_refuse(&mut self, index: usize, header: &FrameHeader, event: Event) -> bool {
        if self.journal_failed() {
            // Nothing new is accepted once the journal cannot make it durable.
            self.counters.journal_refused += 1;
            self.refuse(index, header, reason::JOURNAL_FAILED);
            return false;
        }
        if self.to_engine.try_push(event) {
            self.counters.orders_in += 1;
            true
        } else {
            self.counters.engine_busy += 1;
            self.refuse(index, header, reason::ENGINE_BUSY);
            false
        }
    }
}
