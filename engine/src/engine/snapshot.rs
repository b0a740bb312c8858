//! The engine's full mutable state as one serializable value: a snapshot.
//!
//! A snapshot holds everything the engine changes while it runs (ledger, own books, mirrored
//! books, oracles, volatility, timers, liquidations, the ADL ranking in use, metrics and
//! histograms); construction
//! settings (`EngineConfig`, `EnginePolicy`) are not in it — the engine a snapshot is restored
//! into is built from the same origin first, and the snapshot is checked against its shape.
//! Scratch space is not in it either; restoring reserves it again, so the event path after a
//! restore allocates nothing, as after [`Engine::new`]. A cache whose use changes results (the
//! ADL ranking: which holders it names depends on when it was ranked) is state, not scratch.
//!
//! Encoding: JSON through serde (floats round-trip exactly: `float_roundtrip`). A restored engine
//! continues exactly as the engine the snapshot was taken from (`engine/tests/engine_snapshot.rs`).

use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};

use super::{timers, AccountState, Engine, Liquidation};
use crate::auction::depth::L2Book;
use crate::book::Book;
use crate::risk::oracle::MarkOracle;
use crate::risk::volatility::RealizedVol;
use crate::risk::Ledger;
use super::metrics::EngineMetrics;
use hdrhistogram::Histogram;

/// Field names of the snapshot, in order (serialization and restore share them).
const FIELDS: [&str; 22] = [
    "now",
    "next_liquidation_id",
    "active_count",
    "backstop_start",
    "ledger",
    "books",
    "mirrors",
    "mirror_changed_ns",
    "oracles",
    "vols",
    "implied_vols",
    "next_mark_ns",
    "last_liquidation_fill_ns",
    "cascade",
    "accounts",
    "adl_losses",
    "adl_cache",
    "pool",
    "timers",
    "metrics",
    "time_to_solvency",
    "call_lead",
];

/// The owned form a snapshot is read into.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EngineState {
    now: i64,
    next_liquidation_id: u64,
    active_count: usize,
    backstop_start: i128,
    ledger: Ledger,
    books: Vec<Book>,
    mirrors: Vec<L2Book>,
    mirror_changed_ns: Vec<i64>,
    oracles: Vec<MarkOracle>,
    vols: Vec<RealizedVol>,
    implied_vols: Vec<super::margin_call::ImpliedVolState>,
    next_mark_ns: Vec<i64>,
    last_liquidation_fill_ns: Vec<i64>,
    cascade: Vec<u32>,
    accounts: Vec<AccountState>,
    adl_losses: Vec<i128>,
    /// The ADL ranking in use: results depend on when it was ranked, so it is state.
    adl_cache: super::waterfall::AdlCache,
    #[serde(with = "sparse_pool")]
    pool: Vec<Option<Liquidation>>,
    timers: timers::SlotTimers,
    metrics: EngineMetrics,
    #[serde(with = "histogram_counts")]
    time_to_solvency: Histogram<u64>,
    #[serde(with = "histogram_counts")]
    call_lead: Histogram<u64>,
}

/// The sizes a snapshot declares that decide allocations, read first (the rest is skipped).
#[derive(Deserialize)]
struct DeclaredSizes {
    pool: DeclaredPool,
    timers: DeclaredTimers,
    books: Vec<DeclaredBook>,
    time_to_solvency: DeclaredHistogram,
    call_lead: DeclaredHistogram,
}

#[derive(Deserialize)]
struct DeclaredPool {
    len: usize,
}

#[derive(Deserialize)]
struct DeclaredTimers {
    slots: usize,
}

#[derive(Deserialize)]
struct DeclaredBook {
    config: crate::book::BookConfig,
}

#[derive(Deserialize)]
struct DeclaredHistogram {
    low: u64,
    high: u64,
    sigfig: u8,
}

/// Serializes the engine's mutable state (the [`FIELDS`] in order).
struct StateView<'a>(&'a Engine);

/// The liquidation pool as its length and occupied slots.
struct SparsePool<'a>(&'a [Option<Liquidation>]);

impl Serialize for SparsePool<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        sparse_pool::serialize(self.0, s)
    }
}

/// A histogram as its bounds and its recorded `(value, count)` pairs.
struct HistogramView<'a>(&'a Histogram<u64>);

impl Serialize for HistogramView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        histogram_counts::serialize(self.0, s)
    }
}

impl Serialize for StateView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let e = self.0;
        let mut st = s.serialize_struct("EngineState", FIELDS.len())?;
        st.serialize_field(FIELDS[0], &e.now)?;
        st.serialize_field(FIELDS[1], &e.next_liquidation_id)?;
        st.serialize_field(FIELDS[2], &e.active_count)?;
        st.serialize_field(FIELDS[3], &e.backstop_start)?;
        st.serialize_field(FIELDS[4], &e.ledger)?;
        st.serialize_field(FIELDS[5], &e.books)?;
        st.serialize_field(FIELDS[6], &e.mirrors)?;
        st.serialize_field(FIELDS[7], &e.mirror_changed_ns)?;
        st.serialize_field(FIELDS[8], &e.oracles)?;
        st.serialize_field(FIELDS[9], &e.vols)?;
        st.serialize_field(FIELDS[10], &e.implied_vols)?;
        st.serialize_field(FIELDS[11], &e.next_mark_ns)?;
        st.serialize_field(FIELDS[12], &e.last_liquidation_fill_ns)?;
        st.serialize_field(FIELDS[13], &e.cascade)?;
        st.serialize_field(FIELDS[14], &e.accounts)?;
        st.serialize_field(FIELDS[15], &e.adl_losses)?;
        st.serialize_field(FIELDS[16], &e.adl_cache)?;
        st.serialize_field(FIELDS[17], &SparsePool(&e.pool))?;
        st.serialize_field(FIELDS[18], &e.timers)?;
        st.serialize_field(FIELDS[19], &e.metrics)?;
        st.serialize_field(FIELDS[20], &HistogramView(&e.time_to_solvency))?;
        st.serialize_field(FIELDS[21], &HistogramView(&e.call_lead))?;
        st.end()
    }
}

impl Engine {
    /// Writes the engine's full mutable state to `w` (see the module docs).
    pub fn write_snapshot<W: std::io::Write>(&self, w: W) -> Result<(), String> {
        serde_json::to_writer(w, &StateView(self)).map_err(|e| format!("engine snapshot: {e}"))
    }

    /// Replaces this engine's mutable state by the snapshot in `bytes`. The engine must have
    /// been built from the same configuration, policy and instruments and accounts as the one
    /// the snapshot was taken from; a snapshot of another shape is refused and leaves this
    /// engine unchanged.
    pub fn restore_snapshot(&mut self, bytes: &[u8]) -> Result<(), String> {
        // Sizes that decide allocations are read (skipping everything else) and checked before
        // anything is built from them.
        let declared: DeclaredSizes = serde_json::from_slice(bytes).map_err(|e| format!("engine snapshot: {e}"))?;
        self.check_declared_sizes(&declared)?;
        let state: EngineState = serde_json::from_slice(bytes).map_err(|e| format!("engine snapshot: {e}"))?;
        self.check_shape(&state)?;
        let EngineState {
            now,
            next_liquidation_id,
            active_count,
            backstop_start,
            ledger,
            books,
            mut mirrors,
            mirror_changed_ns,
            oracles,
            vols,
            implied_vols,
            next_mark_ns,
            last_liquidation_fill_ns,
            cascade,
            accounts,
            adl_losses,
            adl_cache,
            pool,
            timers,
            metrics,
            time_to_solvency,
            call_lead,
        } = state;
        for m in &mut mirrors {
            m.reserve_levels(self.config.mirror_levels);
        }
        self.now = now;
        self.next_liquidation_id = next_liquidation_id;
        self.active_count = active_count;
        self.backstop_start = backstop_start;
        self.ledger = ledger;
        self.ledger.book.reserve_restored();
        self.books = books;
        self.mirrors = mirrors;
        self.mirror_changed_ns = mirror_changed_ns;
        self.oracles = oracles;
        for oracle in &mut self.oracles {
            oracle.reserve_restored();
        }
        self.vols = vols;
        self.implied_vols = implied_vols;
        self.next_mark_ns = next_mark_ns;
        self.last_liquidation_fill_ns = last_liquidation_fill_ns;
        self.cascade = cascade;
        self.accounts = accounts;
        self.adl_losses = adl_losses;
        self.adl_cache = adl_cache;
        self.adl_cache.reserve_restored(self.accounts.len());
        self.pool = pool;
        self.relist_running_auctions();
        self.timers = timers;
        self.timers.reserve_all();
        self.metrics = metrics;
        self.time_to_solvency = time_to_solvency;
        self.call_lead = call_lead;
        Ok(())
    }

    /// The pool, timer, book and histogram sizes a snapshot declares, against this engine's.
    fn check_declared_sizes(&self, d: &DeclaredSizes) -> Result<(), String> {
        let pool = self.pool.len();
        let mut checks = vec![("pool.len", d.pool.len as u64, pool as u64), ("timers.slots", d.timers.slots as u64, pool as u64), ("books", d.books.len() as u64, self.books.len() as u64)];
        for (name, got, h) in [("time_to_solvency", &d.time_to_solvency, &self.time_to_solvency), ("call_lead", &d.call_lead, &self.call_lead)] {
            checks.push((name, got.low, h.low()));
            checks.push((name, got.high, h.high()));
            checks.push((name, u64::from(got.sigfig), u64::from(h.sigfig())));
        }
        for (what, got, want) in checks {
            if got != want {
                return Err(format!("engine snapshot: {what}: {got} in the snapshot, {want} in this engine (built from another origin?)"));
            }
        }
        for (k, (book, mine)) in d.books.iter().zip(&self.books).enumerate() {
            if &book.config != mine.config() {
                return Err(format!("engine snapshot: own book {k} has another capacity than this engine's"));
            }
        }
        Ok(())
    }

    fn check_shape(&self, s: &EngineState) -> Result<(), String> {
        let instruments = self.books.len();
        let accounts = self.accounts.len();
        let checks = [
            ("instruments (books)", s.books.len(), instruments),
            ("instruments (ledger)", s.ledger.book.instruments().len(), self.ledger.book.instruments().len()),
            ("accounts (ledger)", s.ledger.book.accounts().len(), self.ledger.book.accounts().len()),
            ("accounts", s.accounts.len(), accounts),
            ("adl_losses", s.adl_losses.len(), accounts),
            ("mirrors", s.mirrors.len(), self.mirrors.len()),
            ("mirror_changed_ns", s.mirror_changed_ns.len(), self.mirrors.len()),
            ("oracles", s.oracles.len(), instruments),
            ("vols", s.vols.len(), instruments),
            ("implied_vols", s.implied_vols.len(), instruments),
            ("next_mark_ns", s.next_mark_ns.len(), instruments),
            ("last_liquidation_fill_ns", s.last_liquidation_fill_ns.len(), instruments),
            ("cascade", s.cascade.len(), instruments),
            ("pool (max_liquidations)", s.pool.len(), self.pool.len()),
        ];
        for (what, got, want) in checks {
            if got != want {
                return Err(format!("engine snapshot: {what}: {got} in the snapshot, {want} in this engine (built from another origin?)"));
            }
        }
        s.adl_cache.check(accounts, instruments)?;
        if s.timers.slots() != self.pool.len() {
            return Err(format!("engine snapshot: timers for {} slots, {} in this engine", s.timers.slots(), self.pool.len()));
        }
        if let Some(slot) = s.timers.armed_slots().find(|&slot| s.pool[slot].is_none()) {
            return Err(format!("engine snapshot: a timer is armed for the empty pool slot {slot}"));
        }
        let live = s.pool.iter().filter(|l| l.is_some()).count();
        if live != s.active_count {
            return Err(format!("engine snapshot: active_count {} but {live} liquidations in the pool", s.active_count));
        }
        Ok(())
    }
}

/// serde `with` module: a histogram as `{low, high, sigfig, counts: [[value, count], …]}`.
mod histogram_counts {
    use hdrhistogram::Histogram;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Counts {
        low: u64,
        high: u64,
        sigfig: u8,
        counts: Vec<(u64, u64)>,
    }

    pub fn serialize<S: Serializer>(h: &Histogram<u64>, s: S) -> Result<S::Ok, S::Error> {
        Counts {
            low: h.low(),
            high: h.high(),
            sigfig: h.sigfig(),
            counts: h.iter_recorded().map(|v| (v.value_iterated_to(), v.count_at_value())).collect(),
        }
        .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Histogram<u64>, D::Error> {
        use serde::de::Error;
        let c = Counts::deserialize(d)?;
        let mut h = Histogram::new_with_bounds(c.low, c.high, c.sigfig).map_err(D::Error::custom)?;
        for (value, count) in c.counts {
            h.record_n(value, count).map_err(D::Error::custom)?;
        }
        Ok(h)
    }
}

/// serde `with` module: the pool as `{len, live: [[slot, liquidation], …]}`.
mod sparse_pool {
    use super::Liquidation;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize)]
    struct Stored<'a> {
        len: usize,
        live: Vec<(usize, &'a Liquidation)>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Read {
        len: usize,
        live: Vec<(usize, Liquidation)>,
    }

    pub fn serialize<S: Serializer>(pool: &[Option<Liquidation>], s: S) -> Result<S::Ok, S::Error> {
        let live = pool.iter().enumerate().filter_map(|(slot, l)| l.as_ref().map(|l| (slot, l))).collect();
        Stored { len: pool.len(), live }.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Option<Liquidation>>, D::Error> {
        use serde::de::Error;
        let read = Read::deserialize(d)?;
        if read.len > 1 << 24 {
            return Err(D::Error::custom(format!("pool of {} slots (at most 16777216)", read.len)));
        }
        let mut pool: Vec<Option<Liquidation>> = (0..read.len).map(|_| None).collect();
        for (slot, liquidation) in read.live {
            match pool.get_mut(slot) {
                Some(entry @ None) => *entry = Some(liquidation),
                _ => return Err(D::Error::custom(format!("pool slot {slot} out of range or given twice"))),
            }
        }
        Ok(pool)
    }
}
