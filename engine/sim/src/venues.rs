//! External venues as the simulated world sees them: the replayed (captured)
//! book of each venue and instrument, and a [`ShadowBook`] of the liquidity
//! our routed intents and the liquidators' hedges consumed, which refills
//! with the resilience half-life. The engine sees the captured book minus
//! what was consumed (when impact feedback is on), through ordinary
//! `BookLevel` events; it never sees this type.

use gavel_engine::auction::depth::{DepthView, L2Book};
use gavel_feeds::wire::{Event, EventKind, PriceLevel, Side, Venue};

use crate::shadow::ShadowBook;

/// One fill of an order on an external venue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VenueFill {
    /// Price ticks.
    pub price: i64,
    /// Lots.
    pub qty: i64,
}

/// The external venues of a replay.
pub struct ExternalVenues {
    venues: Vec<Venue>,
    instruments: usize,
    books: Vec<L2Book>,
    shadows: Vec<ShadowBook>,
    feedback: bool,
    prices: Vec<(Side, i64)>,
    /// Largest gap seen between the captured and the visible mid, hundredths of a bp.
    pub peak_impact_centi_bps: i64,
}

impl ExternalVenues {
    /// Venues × instruments books; consumed liquidity recovers with `half_life_ns`;
    /// `feedback`: the engine sees the consumption.
    pub fn new(venues: Vec<Venue>, instruments: usize, half_life_ns: i64, feedback: bool) -> Self {
        let n = venues.len() * instruments;
        ExternalVenues {
            books: (0..n).map(|k| L2Book::new(venues[k / instruments.max(1)])).collect(),
            shadows: (0..n).map(|_| ShadowBook::new(half_life_ns)).collect(),
            venues,
            instruments,
            feedback,
            prices: Vec::new(),
            peak_impact_centi_bps: 0,
        }
    }

    /// The venues, in slot order.
    pub fn venues(&self) -> &[Venue] {
        &self.venues
    }

    /// The book slot of `venue` and `instrument`.
    pub fn slot(&self, venue: u8, instrument: u32) -> Option<usize> {
        let v = self.venues.iter().position(|x| *x as u8 == venue)?;
        let i = instrument as usize;
        (i < self.instruments).then_some(v * self.instruments + i)
    }

    /// Applies a captured event and returns what the engine should see: book levels
    /// less the liquidity consumed at that price.
    pub fn on_capture(&mut self, event: &Event) -> Event {
        let Some(k) = self.slot(event.venue, event.instrument) else { return *event };
        match event.kind() {
            Some(EventKind::BookLevel | EventKind::SnapshotLevel) => {
                self.books[k].apply(event);
                let mut seen = *event;
                if self.feedback {
                    if let Some(side @ (Side::Bid | Side::Ask)) = event.side() {
                        let mut level: PriceLevel = event.payload();
                        level.qty = (level.qty - self.shadows[k].consumed_at(side, level.price)).max(0);
                        seen.set_payload(level);
                    }
                }
                seen
            }
            Some(EventKind::SnapshotBegin | EventKind::Gap) => {
                self.books[k].clear();
                *event
            }
            _ => *event,
        }
    }

    fn level_event(&self, k: usize, side: Side, price: i64, now: i64) -> Event {
        let qty = self.visible_qty(k, side, price);
        let venue = self.venues[k / self.instruments];
        Event::new(EventKind::BookLevel, venue, (k % self.instruments) as u32, PriceLevel { price, qty, index: 0 })
            .with_side(side)
            .with_times(0, now, now)
    }

    fn visible_qty(&self, k: usize, side: Side, price: i64) -> i64 {
        (self.books[k].qty_at(side, price) - self.shadows[k].consumed_at(side, price)).max(0)
    }

    /// Takes up to `qty` lots from `side` of book `k` (the side a marketable order hits),
    /// not beyond `limit`; every fill is recorded as consumed. Each fill goes to `fill`, and
    /// (with feedback) the level's new visible quantity to `emit` as a book event.
    pub fn take(&mut self, k: usize, side: Side, qty: i64, limit: Option<i64>, now: i64, mut fill: impl FnMut(VenueFill), mut emit: impl FnMut(Event)) -> i64 {
        self.shadows[k].recover(now);
        let mut left = qty;
        let mut i = 0;
        while left > 0 {
            let Some((price, raw)) = self.books[k].level(side, i) else { break };
            i += 1;
            if limit.is_some_and(|l| if side == Side::Bid { price < l } else { price > l }) {
                break;
            }
            let available = raw - self.shadows[k].consumed_at(side, price);
            if available <= 0 {
                continue;
            }
            let q = available.min(left);
            self.shadows[k].take(side, std::iter::once((price, raw)), q, price);
            left -= q;
            fill(VenueFill { price, qty: q });
            if self.feedback {
                emit(self.level_event(k, side, price, now));
            }
        }
        qty - left
    }

    /// Lets consumed liquidity recover to `now` and (with feedback) emits the levels whose
    /// visible quantity changed.
    pub fn refill(&mut self, now: i64, mut emit: impl FnMut(Event)) {
        for k in 0..self.books.len() {
            let shadow = &self.shadows[k];
            if shadow.consumed_total(Side::Bid) == 0 && shadow.consumed_total(Side::Ask) == 0 {
                self.shadows[k].recover(now);
                continue;
            }
            let mut prices = std::mem::take(&mut self.prices);
            prices.clear();
            for side in [Side::Bid, Side::Ask] {
                prices.extend(self.shadows[k].consumed_levels(side).map(|l| (side, l.0)));
            }
            self.shadows[k].recover(now);
            if self.feedback {
                for &(side, price) in &prices {
                    emit(self.level_event(k, side, price, now));
                }
            }
            self.prices = prices;
            self.note_impact(k);
        }
    }

    fn note_impact(&mut self, k: usize) {
        let raw = (self.books[k].best(Side::Bid), self.books[k].best(Side::Ask));
        let visible = |side: Side| (0..).map_while(|i| self.books[k].level(side, i)).find(|l| l.1 > self.shadows[k].consumed_at(side, l.0)).map(|l| l.0);
        if let ((Some((b, _)), Some((a, _))), Some(vb), Some(va)) = (raw, visible(Side::Bid), visible(Side::Ask)) {
            let raw_mid = i128::from(b + a);
            let seen_mid = i128::from(vb + va);
            if raw_mid > 0 {
                let centi = (raw_mid - seen_mid).abs() * 1_000_000 / raw_mid;
                self.peak_impact_centi_bps = self.peak_impact_centi_bps.max(centi as i64);
            }
        }
    }

    /// Lots and notional (ticks × lots) of taking `qty` lots from `side` across every venue's
    /// visible book of `instrument`, best price first (a merge of the venues' sorted books).
    pub fn visible_walk(&self, instrument: u32, side: Side, qty: i64) -> (i64, i128) {
        let venues = self.venues.len();
        let mut cursor = [0usize; 16];
        let (mut filled, mut notional) = (0i64, 0i128);
        while filled < qty {
            // The best next level over the venues' cursors.
            let mut best: Option<(usize, i64, i64)> = None;
            for v in 0..venues.min(cursor.len()) {
                let k = v * self.instruments + instrument as usize;
                while let Some((price, raw)) = self.books[k].level(side, cursor[v]) {
                    let q = raw - self.shadows[k].consumed_at(side, price);
                    if q > 0 {
                        let better = best.is_none_or(|(_, p, _)| if side == Side::Bid { price > p } else { price < p });
                        if better {
                            best = Some((v, price, q));
                        }
                        break;
                    }
                    cursor[v] += 1;
                }
            }
            let Some((v, price, q)) = best else { break };
            cursor[v] += 1;
            let take = q.min(qty - filled);
            filled += take;
            notional += i128::from(price) * i128::from(take);
        }
        (filled, notional)
    }

    /// The venue slot with the most visible lots on `side` of `instrument`'s top `levels` levels.
    pub fn deepest(&self, instrument: u32, side: Side, levels: usize) -> Option<usize> {
        (0..self.venues.len())
            .map(|v| {
                let k = v * self.instruments + instrument as usize;
                let depth: i64 = (0..levels).map_while(|i| self.books[k].level(side, i)).map(|l| (l.1 - self.shadows[k].consumed_at(side, l.0)).max(0)).sum();
                (v, depth)
            })
            .filter(|x| x.1 > 0)
            .max_by_key(|x| (x.1, std::cmp::Reverse(x.0)))
            .map(|x| x.0 * self.instruments + instrument as usize)
    }

    /// The top `levels` visible levels of book `k` on `side`.
    pub fn top_levels(&self, k: usize, side: Side, levels: usize) -> impl Iterator<Item = (i64, i64)> + '_ {
        (0..)
            .map_while(move |i| self.books[k].level(side, i))
            .map(move |l| (l.0, (l.1 - self.shadows[k].consumed_at(side, l.0)).max(0)))
            .filter(|l| l.1 > 0)
            .take(levels)
    }
}
