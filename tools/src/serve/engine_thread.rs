//! The engine thread of `gavel serve`: polls its input rings (gateway, feed),
//! runs every event through the [`Engine`], pushes the outputs to the gateway's
//! ring, and times the stages at their boundaries.
//!
//! Durability: every input gets the next journal sequence (consumption order,
//! the order a replay must follow) and a copy goes to the journal ring
//! (`publish_ticks` = sequence); every output it causes carries that sequence
//! in `exchange_ns`, so the gateway can hold it until the input is durable.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use gavel_engine::engine::{Engine, OutputSink};
use gavel_engine::engine_loop::{pin_current_thread, PinOutcome};
use gavel_engine::latency::StageHistogram;
use gavel_feeds::clock::Clock;
use gavel_feeds::ring::{Consumer, EventProducer, Producer};
use gavel_feeds::wire::{auction_update, Event, EventKind};

/// What the engine thread measured and ended with.
pub struct EngineReport {
    /// The engine after the run (for its metrics and ledger).
    pub engine: Engine,
    /// Input publish → picked by the engine (both rings).
    pub ring_in: StageHistogram,
    /// A client order picked → its first execution report on the output ring.
    pub order_to_report: StageHistogram,
    /// A venue event picked → each auction start it caused on the output ring (a mark that
    /// crosses many accounts starts their liquidations one after another).
    pub mark_to_auction: StageHistogram,
    /// A venue event picked → the first auction start it caused.
    pub mark_to_first_auction: StageHistogram,
    /// Events handled.
    pub events: u64,
    /// Whether the thread was pinned.
    pub pinned: bool,
    /// Output events that found the gateway's ring full (pushed once room came).
    pub output_waits: u64,
    /// Journal sequence of the last input handled.
    pub last_sequence: u64,
}

/// The journal side of the engine thread.
pub struct JournalOut {
    /// Ring to the journal writer.
    pub ring: Producer<Event>,
    /// Sequence of the next input.
    pub next_sequence: u64,
}

struct Sink<'a> {
    ring: &'a mut EventProducer,
    clock: Clock,
    picked: u64,
    is_order: bool,
    is_venue: bool,
    order_to_report: &'a mut StageHistogram,
    mark_to_auction: &'a mut StageHistogram,
    mark_to_first_auction: &'a mut StageHistogram,
    auctions_started: u32,
    waits: u64,
    sequence: u64,
}

impl OutputSink for Sink<'_> {
    fn emit(&mut self, event: &Event) {
        let mut out = *event;
        out.exchange_ns = self.sequence as i64;
        if !self.ring.try_push(out) {
            self.waits += 1;
            // The gateway drains this ring without waiting on clients; wait for room.
            let _ = self.ring.push(out);
        }
        if self.is_order && event.kind == EventKind::ExecReport as u8 {
            self.order_to_report.record_ns(self.clock.ns_since(self.picked));
            self.is_order = false;
        }
        if self.is_venue && event.kind == EventKind::AuctionUpdate as u8 && event.flags == auction_update::START {
            let ns = self.clock.ns_since(self.picked);
            self.mark_to_auction.record_ns(ns);
            if self.auctions_started == 0 {
                self.mark_to_first_auction.record_ns(ns);
            }
            self.auctions_started += 1;
        }
    }
}

/// Where and when the engine thread writes its histograms on request (SIGUSR1).
pub struct DumpRequest {
    /// Set to ask for a dump; cleared when done.
    pub flag: &'static AtomicBool,
    /// Folder of the `.hgrm` files.
    pub dir: std::path::PathBuf,
}

/// Runs the engine until `stop` is set and its inputs are drained. A dump request is
/// served only when no input is waiting (its file writes never delay an event).
#[allow(clippy::too_many_arguments)]
pub fn run(mut engine: Engine, mut inputs: Vec<Consumer<Event>>, mut output: EventProducer, mut journal: JournalOut, clock: Clock, core: Option<usize>, busy_poll: bool, stop: Arc<AtomicBool>, dump: DumpRequest) -> EngineReport {
    let pinned = core.is_some_and(|c| matches!(pin_current_thread(c), PinOutcome::Pinned(_)));
    super::tight_timer_slack();
    let mut ring_in = StageHistogram::new("ring_in");
    let mut order_to_report = StageHistogram::new("order_to_report");
    let mut mark_to_auction = StageHistogram::new("mark_to_auction");
    let mut mark_to_first_auction = StageHistogram::new("mark_to_first_auction");
    let (mut events, mut idle, mut waits) = (0u64, 0u32, 0u64);
    loop {
        let mut any = false;
        for input in inputs.iter_mut() {
            // Up to a batch from each ring in turn, so neither starves the other.
            for _ in 0..64 {
                let Some(event) = input.try_pop() else { break };
                any = true;
                let picked = clock.now_ticks();
                if event.publish_ticks != 0 {
                    ring_in.record_ns(clock.ticks_to_ns(picked.saturating_sub(event.publish_ticks)));
                }
                let kind = event.kind;
                let sequence = journal.next_sequence;
                journal.next_sequence += 1;
                let mut copy = event;
                copy.publish_ticks = sequence;
                if !journal.ring.try_push(copy) {
                    // The writer drains this ring continuously (and keeps draining after a failure).
                    let _ = journal.ring.push(copy);
                }
                let mut sink = Sink {
                    ring: &mut output,
                    clock,
                    picked,
                    is_order: kind == EventKind::ClientOrder as u8,
                    is_venue: kind == EventKind::BookLevel as u8 || kind == EventKind::Timer as u8,
                    order_to_report: &mut order_to_report,
                    mark_to_auction: &mut mark_to_auction,
                    mark_to_first_auction: &mut mark_to_first_auction,
                    auctions_started: 0,
                    waits: 0,
                    sequence,
                };
                engine.on_event(&event, &mut sink);
                waits += sink.waits;
                events += 1;
            }
        }
        if any {
            idle = 0;
            continue;
        }
        if stop.load(Ordering::Acquire) {
            break;
        }
        if dump.flag.swap(false, Ordering::AcqRel) {
            for h in [&ring_in, &order_to_report, &mark_to_auction, &mark_to_first_auction] {
                let _ = h.write_hgrm(&dump.dir.join(format!("{}.hgrm", h.name())));
            }
        }
        idle = idle.saturating_add(1);
        if !busy_poll && idle > 20_000 {
            std::thread::sleep(std::time::Duration::from_micros(50));
        } else {
            std::hint::spin_loop();
        }
    }
    EngineReport { engine, ring_in, order_to_report, mark_to_auction, mark_to_first_auction, events, pinned, output_waits: waits, last_sequence: journal.next_sequence - 1 }
}
