//! The auction hot path (wire bid → price with depth floor → take → ledger →
//! journal event) allocates nothing after warm-up. A counting global allocator
//! counts allocations made by this test's thread only.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use gavel_engine::auction::curve::NS_PER_SEC;
use gavel_engine::auction::depth::{DepthView, L2Book};
use gavel_engine::auction::dutch::AuctionHouse;
use gavel_engine::auction::events::ExecutionEvent;
use gavel_engine::auction::lot::{LiquidationLot, LotSide};
use gavel_engine::auction::policy::InstrumentPolicy;
use gavel_feeds::wire::{Event, EventKind, LiquidatorBid, Venue};

struct CountingAlloc;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: delegates every call to the system allocator unchanged; the counter
// is a const-initialised thread-local `Cell` that never allocates.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(|c| c.get()) {
            ALLOCATIONS.with(|a| a.set(a.get() + 1));
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

#[test]
fn taking_wire_bids_does_not_allocate() {
    let lot = LiquidationLot {
        id: 9,
        instrument: 3,
        account: 5,
        side: LotSide::Sell,
        qty: 10_000,
        mark: 100_000,
        bankruptcy: 95_000,
        penalty_budget: 1_000_000,
        created_ns: 0,
        deadline_ns: 3_600 * NS_PER_SEC,
    };
    let bids: Vec<(i64, i64)> = (0..200).map(|i| (99_990 - 10 * i, 50)).collect();
    let a = L2Book::from_levels(Venue::BinanceUsdm, &bids, &[]);
    let b = L2Book::from_levels(Venue::Okx, &bids[..50], &[]);
    let views: [&dyn DepthView; 2] = [&a, &b];
    let mut policy = InstrumentPolicy::default();
    policy.auction.tip = 1_000;
    let mut house = AuctionHouse::with_capacity(4);
    let mut journal: Vec<ExecutionEvent> = Vec::with_capacity(4_096);
    house.start(&lot, lot.qty, &policy, 0, &mut journal).unwrap();

    let bid = |n: u64, qty: i64, limit: i64| {
        let at = n as i64 * 50_000_000;
        Event::new(
            EventKind::LiquidatorBid,
            Venue::Gavel,
            3,
            LiquidatorBid::new((n % 7) as u32, 9, limit, qty),
        )
        .with_times(n, at, at)
    };
    COUNTING.with(|c| c.set(true));
    let mut accepted = 0;
    let mut rejected = 0;
    for n in 1..=2_000u64 {
        // A mix of takes, limit rejections and unknown auctions.
        let event = match n % 3 {
            0 => bid(n, 3, 90_000),
            1 => bid(n, 4, 200_000),
            _ => {
                let mut e = bid(n, 4, 200_000);
                e.set_payload(LiquidatorBid::new(1, 77, 200_000, 4));
                e
            }
        };
        match house.on_bid(&event, &views, &mut journal) {
            Ok(_) => accepted += 1,
            Err(_) => rejected += 1,
        }
        house.advance_all(event.receive_ns, &mut journal);
    }
    COUNTING.with(|c| c.set(false));
    let allocations = ALLOCATIONS.with(|a| a.get());
    assert!(
        accepted > 100 && rejected > 100,
        "accepted {accepted}, rejected {rejected}"
    );
    assert!(
        journal.len() < journal.capacity(),
        "journal outgrew its reserved capacity"
    );
    assert_eq!(allocations, 0, "the bid path allocated {allocations} times");
}
