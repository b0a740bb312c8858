//! Property: whatever the price path, policy, bids and venue fills, the
//! engine's ledger balances to the quote unit and every instrument's net
//! position is zero after every event — including the backstop vault's
//! positions, taken at executable prices, and ADL. With margin calls and a
//! pre-emptive reduction share, the reductions' lots are told apart from the
//! liquidations' by their notices and match their own counter.

mod engine_common;

use std::collections::BTreeMap;

use engine_common::*;
use gavel_engine::engine::BUILTIN_POLICIES;
use gavel_feeds::wire::{auction_update, ledger_record, liquidation_stage, AuctionNotice, Event, EventKind, LiquidationNotice, RoutedIntent};
use proptest::prelude::*;

#[allow(clippy::too_many_arguments)]
fn scenario(steps: Vec<i64>, sizes: Vec<(i64, i64)>, policy_index: usize, fund: i64, bid_every: u8, fill_share: u8, preempt_per_mille: u32, auction_abort_bps: u32, stop_confirm_tenths: u8, escalate_when_stopped: bool) {
    let mut a = Accounts::new();
    let vault = a.add("vault", 1_000_000);
    let keeper = a.add("keeper", 1_000_000);
    let mm = a.add("mm", 1_000_000);
    for (k, &(size, collateral)) in sizes.iter().enumerate() {
        let id = a.add(&format!("u{k}"), collateral);
        a.position(id, size, 10_000);
    }
    let name = BUILTIN_POLICIES[policy_index % BUILTIN_POLICIES.len()];
    let mut engine = engine(
        a.ledger(fund),
        policy(name, |p| {
            p.preempt_per_mille = preempt_per_mille;
            // 0 keeps the policy's own stop (adaptive's 1 bp; none for the others).
            if auction_abort_bps > 0 {
                p.auction_abort_bps = auction_abort_bps;
            }
            p.auction_stop_confirm_ns = i64::from(stop_confirm_tenths) * 100_000_000;
            p.escalate_when_stopped = escalate_when_stopped;
        }),
        |c| {
            c.backstop_account = Some(vault);
            c.liquidators = vec![(1, keeper)];
            if preempt_per_mille > 0 {
                c.margin_call = Some(gavel_engine::engine::margin_call::MarginCallConfig { k_sigma_milli: 3_000, horizon_ns: 60 * SEC, cooldown_ns: SEC, implied_max_age_ns: 0 });
            }
        },
    );
    let mut queue: BTreeMap<(i64, u64), Event> = BTreeMap::new();
    let mut seq = 0u64;
    let mut push = |q: &mut BTreeMap<(i64, u64), Event>, e: Event| {
        seq += 1;
        q.insert((e.receive_ns, seq), e);
    };
    let mut mid = 10_000i64;
    let mut prev: Option<(i64, i64)> = None;
    for (k, step) in steps.iter().enumerate() {
        let t = SEC + k as i64 * 250_000_000;
        mid = (mid + step).clamp(1_000, 20_000);
        for e in quotes(prev, mid - 5, mid + 5, 50, t) {
            push(&mut queue, e);
        }
        prev = Some((mid - 5, mid + 5));
        if k % 4 == 0 {
            push(&mut queue, limit(mm, k as u64, gavel_feeds::wire::Side::Bid, mid - 20, 3, t));
        }
    }
    let mut out = Vec::new();
    let mut all = Vec::new();
    let mut bids = 0u64;
    while let Some((_, e)) = queue.pop_first() {
        out.clear();
        run(&mut engine, &[e], &mut out);
        all.extend_from_slice(&out);
        let now = engine.now();
        for o in &out {
            match o.kind() {
                Some(EventKind::RoutedIntent) => {
                    let intent: RoutedIntent = o.payload();
                    let qty = intent.qty * i64::from(fill_share) / 4;
                    push(&mut queue, intent_fill(o.sequence, intent.limit, qty, true, now + 1_000_000));
                }
                Some(EventKind::AuctionUpdate) if o.flags == auction_update::START || o.flags == auction_update::PRICE => {
                    bids += 1;
                    if bid_every > 0 && bids.is_multiple_of(u64::from(bid_every)) {
                        let n: AuctionNotice = o.payload();
                        push(&mut queue, bid(1, o.sequence as u32, n.price, n.remaining.max(1), now + 2_000_000));
                    }
                }
                _ => {}
            }
        }
    }
    // Drain the waterfall with time: every liquidation ends.
    let end = engine.now();
    for k in 1..=200 {
        out.clear();
        run(&mut engine, &[timer(end + k * 500_000_000)], &mut out);
        all.extend_from_slice(&out);
    }
    assert_eq!(engine.active_liquidations(), 0);
    let notices: Vec<&Event> = all.iter().filter(|e| e.kind() == Some(EventKind::LiquidationUpdate)).collect();
    let count = |stage| notices.iter().filter(|e| e.flags == stage).count();
    let m = engine.metrics();
    // Every episode ends once: liquidations, and reductions that never became one.
    assert_eq!(count(liquidation_stage::TRIGGERED) as u64, m.liquidations);
    assert_eq!(count(liquidation_stage::PREEMPTIVE) as u64, m.preemptive_reductions);
    assert_eq!(count(liquidation_stage::TRIGGERED) + count(liquidation_stage::PREEMPTIVE) - m.preemptive_upgraded as usize, count(liquidation_stage::DONE));
    if preempt_per_mille == 0 {
        assert_eq!(m.preemptive_reductions, 0);
    }
    // The notices account for every lot the metrics say was closed, route by route; a
    // fill belongs to a reduction while its id has a PREEMPTIVE and no TRIGGERED notice yet.
    let mut reducing = std::collections::BTreeSet::new();
    let mut by_stage: BTreeMap<u8, i64> = BTreeMap::new();
    let mut preemptive_lots = 0i64;
    for e in &notices {
        let qty = e.payload::<LiquidationNotice>().qty;
        match e.flags {
            liquidation_stage::PREEMPTIVE => {
                reducing.insert(e.sequence);
            }
            liquidation_stage::TRIGGERED | liquidation_stage::DONE => {
                reducing.remove(&e.sequence);
            }
            stage if reducing.contains(&e.sequence) && stage != liquidation_stage::ZERO_FILL => preemptive_lots += qty,
            stage => *by_stage.entry(stage).or_default() += qty,
        }
    }
    let lots = |stage| by_stage.get(&stage).copied().unwrap_or(0);
    assert_eq!(preemptive_lots, m.preemptive_lots);
    assert_eq!(lots(liquidation_stage::OWN_BOOK), m.volume.own_book);
    assert_eq!(lots(liquidation_stage::AUCTION), m.volume.auction);
    assert_eq!(lots(liquidation_stage::ROUTED), m.volume.external.iter().sum::<i64>());
    assert_eq!(lots(liquidation_stage::BACKSTOP), m.volume.backstop);
    assert_eq!(lots(liquidation_stage::ADL), m.volume.adl);
    // Money records match the metrics: fund draws and penalties.
    let money = |kind| {
        all.iter()
            .filter(|e| e.kind() == Some(EventKind::LedgerRecord) && e.flags == kind)
            .map(|e| i128::from(e.payload::<gavel_feeds::wire::LedgerEntry>().amount))
            .sum::<i128>()
    };
    assert_eq!(money(ledger_record::FUND_DRAW), m.fund_draws);
    assert_eq!(money(ledger_record::PENALTY), m.penalties);
    assert_eq!(money(ledger_record::BAD_DEBT), engine.ledger().bad_debt());
    assert!(m.fund_min <= m.fund_start && m.fund_min <= engine.ledger().fund.balance());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    #[test]
    fn ledger_balances_after_every_event(
        steps in prop::collection::vec(-150i64..100, 8..60),
        sizes in prop::collection::vec((prop_oneof![-40i64..-1, 1i64..40], 50i64..800), 1..8),
        policy_index in 0usize..5,
        fund in prop_oneof![Just(0i64), 0i64..5_000],
        bid_every in 0u8..4,
        fill_share in 0u8..=4,
        preempt_per_mille in prop_oneof![Just(0u32), Just(300u32), 1u32..=1_000],
        auction_abort_bps in prop_oneof![Just(0u32), 1u32..500],
        stop_confirm_tenths in 0u8..6,
        escalate_when_stopped in any::<bool>(),
    ) {
        scenario(steps, sizes, policy_index, fund, bid_every, fill_share, preempt_per_mille, auction_abort_bps, stop_confirm_tenths, escalate_when_stopped);
    }
}
