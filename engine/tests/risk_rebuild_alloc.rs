//! The full recompute of the trigger index (`RiskBook::reevaluate_all`)
//! allocates nothing once `reserve_index` has run: 5,000 cross accounts with
//! two positions each (portfolio bands) and 5,000 single-position ones
//! (exact triggers), marked and rebuilt at several marks under a counting allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use gavel_engine::risk::instrument::{InstrumentSet, QUOTE_SCALE};
use gavel_engine::risk::{MarginMode, RiskBook};

struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; the
// counter and the flag are relaxed atomics, which do not allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn the_full_recompute_allocates_nothing_after_reserve() {
    // A large book (the radix passes) and smaller ones (fewer keys per list than the radix threshold).
    for accounts in [10_000, 600, 60] {
        recompute_without_allocation(accounts);
    }
}

fn recompute_without_allocation(accounts: i64) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/examples/instruments.toml");
    let text = format!(
        "{}\n[[offset]]\nname = \"btc-eth\"\ninstruments = [\"BTCUSDT\", \"ETHUSDT\"]\ncredit = \"0.5\"\n",
        std::fs::read_to_string(path).unwrap()
    );
    let set = InstrumentSet::parse(&text, "instruments.toml").unwrap();
    let (btc, eth) = (set.id("BTCUSDT").unwrap(), set.id("ETHUSDT").unwrap());
    let mut book = RiskBook::new(set);
    let mut crossed = Vec::new();
    book.set_mark(btc, 500_000, &mut crossed);
    book.set_mark(eth, 250_000, &mut crossed);
    for i in 0..accounts {
        let id = book.add_account(&format!("a{i}"), MarginMode::Cross, (2_000 + (i * 131) % 7_000) as i128 * QUOTE_SCALE).unwrap();
        let lots = 100 + (i * 97) % 900;
        let sign = if i % 3 == 0 { -1 } else { 1 };
        book.set_position(id, btc, sign * lots, (sign as i128) * i128::from(lots) * 500_000 * 100, 0);
        if i % 2 == 0 {
            book.set_position(id, eth, -sign * lots * 10, -(sign as i128) * i128::from(lots) * 10 * 250_000 * 10, 0);
        }
    }
    book.reserve_index();
    book.reevaluate_all(); // warm-up: every staging buffer reaches its size
    // The caller's list of crossed accounts is reserved too: then neither the mark path nor the rebuild allocates.
    crossed.reserve(2 * accounts as usize);
    ALLOCATIONS.store(0, Ordering::Relaxed);
    COUNTING.store(true, Ordering::Relaxed);
    let mut crossed_total = 0;
    for (b, e) in [(495_000, 251_000), (420_000, 240_000), (560_000, 200_000), (500_000, 250_000)] {
        book.set_mark(btc, b, &mut crossed);
        book.set_mark(eth, e, &mut crossed);
        crossed_total += crossed.len();
        crossed.clear();
        book.reevaluate_all();
    }
    COUNTING.store(false, Ordering::Relaxed);
    assert!(crossed_total > 0, "the marks must move some accounts through their triggers");
    assert_eq!(ALLOCATIONS.load(Ordering::Relaxed), 0, "{accounts} accounts");
}
