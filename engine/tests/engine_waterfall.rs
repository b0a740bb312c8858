//! The engine's liquidation waterfall, event by event: the own book first, the
//! auction taken by bids that arrive as events, ADL of exactly the shortfall.

mod engine_common;

use engine_common::*;
use gavel_engine::engine::{AdlRanking, Engine, EngineConfig, EnginePolicy, Stage};
use gavel_engine::risk::ledger_accounts;
use gavel_feeds::wire::{auction_update, ledger_record, liquidation_stage, report, AuctionNotice, Event, EventKind, ExecReport, LedgerEntry, LiquidationNotice, Side};

/// A long of 10 lots at 100.00 with 200 of collateral: bankrupt at 80.00, liquidatable
/// below 84.21 (maintenance 5 %).
fn victim_book(accounts: &mut Accounts) -> u32 {
    let v = accounts.add("victim", 200);
    accounts.position(v, 10, 10_000);
    v
}

#[test]
fn liquidation_order_is_filled_by_a_resting_client_bid_in_the_own_book() {
    let mut a = Accounts::new();
    let victim = victim_book(&mut a);
    let maker = a.add("maker", 1_000_000);
    let short = a.add("short", 1_000_000);
    a.position(short, -10, 10_000);
    let policy = policy("partial", |p| p.stages = vec![Stage::OwnBook]);
    let mut engine = engine(a.ledger(0), policy, |_| {});
    let mut out = Vec::new();
    let mut events = quotes(None, 9_900, 10_100, 100, SEC);
    events.push(limit(maker, 42, Side::Bid, 8_300, 4, SEC));
    events.extend(quotes(Some((9_900, 10_100)), 8_300, 8_500, 100, 2 * SEC));
    events.push(timer(2 * SEC + 1));
    run(&mut engine, &events, &mut out);

    let notices = of_kind(&out, EventKind::LiquidationUpdate);
    let triggered: LiquidationNotice = notices[0].payload();
    assert_eq!((notices[0].flags, triggered.account, triggered.price), (liquidation_stage::TRIGGERED, u64::from(victim), 8_400));
    let planned = triggered.qty;
    assert!(planned > 0 && planned <= 4, "partial plan {planned}");
    let own: Vec<_> = notices.iter().filter(|e| e.flags == liquidation_stage::OWN_BOOK).collect();
    assert_eq!(own.len(), 1);
    let fill: LiquidationNotice = own[0].payload();
    assert_eq!((fill.price, fill.qty), (8_300, planned));
    // The maker's resting bid was the counterparty: it is long what the victim sold.
    let book = &engine.ledger().book;
    assert_eq!(book.account(maker).position(0).map(|p| p.size), Some(planned));
    assert_eq!(book.account(victim).position(0).map(|p| p.size), Some(10 - planned));
    let maker_fill = of_kind(&out, EventKind::ExecReport)
        .into_iter()
        .find(|e| e.flags & report::TYPE_MASK == report::FILL && e.payload::<ExecReport>().account == u64::from(maker))
        .expect("a fill report to the maker");
    assert_eq!((maker_fill.sequence, maker_fill.payload::<ExecReport>().qty), (42, planned));
    assert_eq!(engine.metrics().volume.own_book, planned);
    assert_eq!(engine.own_book(0).and_then(|b| b.best_bid()), Some((8_300, 4 - planned)));
}

#[test]
fn auction_is_taken_by_a_bid_event_at_the_decayed_price_of_its_time() {
    let mut a = Accounts::new();
    let victim = victim_book(&mut a);
    let keeper = a.add("keeper", 1_000_000);
    let short = a.add("short", 1_000_000);
    a.position(short, -10, 10_000);
    let policy = policy("auction", |p| {
        p.stages = vec![Stage::Auction];
        p.partial = false;
    });
    let mut engine = engine(a.ledger(1_000), policy, |c: &mut EngineConfig| c.liquidators = vec![(7, keeper)]);
    let mut out = Vec::new();
    let mut events = quotes(None, 9_900, 10_100, 1_000, SEC);
    events.extend(quotes(Some((9_900, 10_100)), 8_300, 8_500, 1_000, 2 * SEC));
    events.push(timer(2 * SEC + 1));
    run(&mut engine, &events, &mut out);
    let auctions = of_kind(&out, EventKind::AuctionUpdate);
    assert_eq!(auctions.len(), 1);
    assert_eq!((auctions[0].flags, auctions[0].side()), (auction_update::START, Some(Side::Bid)));
    let start: AuctionNotice = auctions[0].payload();
    assert_eq!((start.account, start.remaining), (u64::from(victim), 10));
    let id = auctions[0].sequence as u32;

    // A bid below the current price at 2.4 s is refused (the price has not decayed to it).
    out.clear();
    run(&mut engine, &[bid(7, id, start.price - 200, 10, 2 * SEC + 400_000_000)], &mut out);
    assert_eq!(engine.metrics().bids_rejected, 1);
    assert!(of_kind(&out, EventKind::LiquidationUpdate).is_empty());

    // At 5.5 s the pending price timer publishes the decayed price; a bid arriving at that
    // event time takes at exactly that price.
    out.clear();
    run(&mut engine, &[bid(7, id, start.price, 4, 5 * SEC + 500_000_000)], &mut out);
    let updates = of_kind(&out, EventKind::AuctionUpdate);
    let price_now = updates.iter().find(|e| e.flags == auction_update::PRICE).expect("a price notice").payload::<AuctionNotice>().price;
    assert!(price_now < start.price, "decayed: {price_now} < {}", start.price);
    let taken = updates.iter().find(|e| e.flags == auction_update::TAKEN).expect("taken");
    let taken: AuctionNotice = taken.payload();
    assert_eq!((taken.price, taken.remaining), (price_now, 6));
    let fill = of_kind(&out, EventKind::LedgerRecord).into_iter().find(|e| e.flags == ledger_record::FILL).expect("fill record");
    let entry: LedgerEntry = fill.payload();
    assert_eq!((entry.price, entry.amount, ledger_accounts(entry.accounts).1), (price_now, -4, Some(keeper)));
    assert_eq!(engine.ledger().book.account(keeper).position(0).map(|p| p.size), Some(4));
    assert_eq!(engine.metrics().volume.auction, 4);
}

/// `naive` with no stages (straight to ADL) and `change` over `accounts`, run through a
/// market at 100.00 that gaps to 90.00 at 2 s; the engine and its outputs.
fn straight_to_adl_at_90(accounts: Accounts, change: impl FnOnce(&mut EnginePolicy)) -> (Engine, Vec<Event>) {
    let policy = policy("naive", |p| {
        p.stages = vec![];
        change(p);
    });
    let mut engine = engine(accounts.ledger(0), policy, |_| {});
    let mut out = Vec::new();
    let mut events = quotes(None, 9_900, 10_100, 100, SEC);
    events.extend(quotes(Some((9_900, 10_100)), 8_999, 9_001, 100, 2 * SEC));
    events.push(timer(2 * SEC + 1));
    run(&mut engine, &events, &mut out);
    (engine, out)
}

#[test]
fn adl_closes_exactly_the_shortfall_pro_rata_and_records_each_loss() {
    let mut a = Accounts::new();
    let victim = a.add("victim", 600);
    a.position(victim, 101, 10_000); // bankrupt below 94.06, healthy at 100.00
    // Three profitable shorts with different sizes and entries, one losing short.
    let s1 = a.add("s1", 10_000);
    a.position(s1, -60, 10_500);
    let s2 = a.add("s2", 10_000);
    a.position(s2, -30, 10_200);
    let s3 = a.add("s3", 10_000);
    a.position(s3, -20, 12_000);
    let loser = a.add("loser", 10_000);
    a.position(loser, -5, 8_000);
    let (engine, out) = straight_to_adl_at_90(a, |_| {});

    let adl: Vec<LedgerEntry> = adl_records(&out);
    let total: i64 = adl.iter().map(|e| e.amount).sum();
    assert_eq!(total, 101, "ADL moves exactly the shortfall");
    assert!(adl.iter().all(|e| ledger_accounts(e.accounts).1 != Some(loser)), "a losing position is not deleveraged while profitable ones exist");
    let book = &engine.ledger().book;
    let after = |id| book.account(id).position(0).map_or(0, |p| p.size);
    assert_eq!(after(victim), 0);
    let taken = [60 + after(s1), 30 + after(s2), 20 + after(s3)];
    assert_eq!(taken.iter().sum::<i64>(), 101);
    assert!(taken.iter().zip([60, 30, 20]).all(|(t, cap)| *t <= cap));
    assert_eq!(after(loser), -5);
    // The bankruptcy price is above the mark: each counterparty buys back above the market
    // and that loss is recorded per account, summing to the metric.
    let price = adl[0].price;
    assert!(price > 9_000);
    let mult = 10_000i128;
    let expected: i128 = [s1, s2, s3].iter().zip(taken).map(|(_, q)| i128::from(q) * i128::from(price - 9_000) * mult).sum();
    assert_eq!(engine.metrics().adl_counterparty_loss, expected);
    assert_eq!([s1, s2, s3].iter().map(|&s| engine.adl_loss(s)).sum::<i128>(), expected);
    assert_eq!(engine.metrics().volume.adl, 101);
    // The counterparties' loss is the victim's gain against the mark: beyond its shortfall it
    // is what the victim still holds, the bankruptcy price's rounding (under a tick per lot).
    let left = book.account(victim).cash();
    assert!((0..101 * mult).contains(&left), "{left}");
    assert_eq!(engine.metrics().adl_excess, left);
}

/// The shortfall of `adl_closes_exactly_the_shortfall…` under each ADL ranking: the same
/// haircut in total, the same excess, a different spread over the counterparties.
#[test]
fn every_adl_ranking_takes_the_same_haircut_spread_differently() {
    let mut totals = Vec::new();
    for ranking in AdlRanking::ALL {
        let mut a = Accounts::new();
        let victim = a.add("victim", 600);
        a.position(victim, 101, 10_000);
        let shorts = [a.add("s1", 10_000), a.add("s2", 10_000), a.add("s3", 10_000)];
        for (&s, (size, entry)) in shorts.iter().zip([(-60, 10_500), (-30, 10_200), (-120, 9_800)]) {
            a.position(s, size, entry);
        }
        let (engine, out) = straight_to_adl_at_90(a, |p| p.adl = ranking);
        assert_eq!(adl_records(&out).iter().map(|e| e.amount).sum::<i64>(), 101, "{ranking:?}");
        let hit = shorts.iter().filter(|&&s| engine.adl_loss(s) > 0).count();
        let m = engine.metrics();
        assert!(m.adl_counterparty_loss > 0, "{ranking:?}");
        totals.push((ranking, m.adl_counterparty_loss, m.adl_excess, hit));
    }
    let (_, loss, excess, pro_rata_hit) = totals[0];
    for &(ranking, l, e, hit) in &totals[1..] {
        assert_eq!((l, e), (loss, excess), "{ranking:?}");
        // A queue fills the shortfall from whole positions in rank order: fewer hands.
        assert!(hit < pro_rata_hit, "{ranking:?}: {hit} against {pro_rata_hit}");
    }
}

#[test]
fn routed_intents_settle_against_the_venue_and_never_ask_beyond_the_fund() {
    let mut a = Accounts::new();
    let victim = victim_book(&mut a);
    let short = a.add("short", 1_000_000);
    a.position(short, -10, 10_000);
    let policy = policy("naive", |_| {});
    let mut engine = engine(a.ledger(0), policy, |_| {});
    let mut out = Vec::new();
    let mut events = quotes(None, 9_900, 10_100, 100, SEC);
    events.extend(quotes(Some((9_900, 10_100)), 8_300, 8_500, 100, 2 * SEC));
    events.push(timer(2 * SEC + 1));
    run(&mut engine, &events, &mut out);
    let intents = of_kind(&out, EventKind::RoutedIntent);
    assert_eq!(intents.len(), 1);
    let intent: gavel_feeds::wire::RoutedIntent = intents[0].payload();
    // An empty fund backs nothing below the bankruptcy price (80.00).
    assert_eq!((intent.qty, intent.limit), (10, 8_000));
    out.clear();
    // A venue report below the intent's limit breaks its terms: refused, counted, not booked.
    run(&mut engine, &[intent_fill(intents[0].sequence, 7_900, 1, false, 2 * SEC + 1)], &mut out);
    assert_eq!(engine.metrics().stale_intent_fills, 1);
    assert_eq!(engine.ledger().book.account(victim).position(0).map(|p| p.size), Some(10));
    run(&mut engine, &[intent_fill(intents[0].sequence, 8_300, 7, false, 2 * SEC + 2), intent_fill(intents[0].sequence, 8_200, 3, true, 2 * SEC + 3)], &mut out);
    let book = &engine.ledger().book;
    assert_eq!(book.account(victim).position(0).map(|p| p.size), Some(0));
    assert_eq!(engine.metrics().volume.external[gavel_feeds::wire::Venue::BinanceUsdm as usize], 10);
    // A late fill of the finished intent is refused and counted.
    run(&mut engine, &[intent_fill(intents[0].sequence, 8_300, 1, true, 3 * SEC)], &mut out);
    assert_eq!(engine.metrics().stale_intent_fills, 2);
    let done = of_kind(&out, EventKind::LiquidationUpdate).into_iter().find(|e| e.flags == liquidation_stage::DONE).expect("done");
    assert_eq!(done.payload::<LiquidationNotice>().qty, 0);
}

#[test]
fn client_orders_are_margin_checked_and_fill_into_positions() {
    let mut a = Accounts::new();
    let buyer = a.add("buyer", 100);
    let seller = a.add("seller", 100);
    let mut engine = engine(a.ledger(0), policy("partial", |_| {}), |_| {});
    let mut out = Vec::new();
    let mut events = quotes(None, 9_900, 10_100, 100, SEC);
    // 10× leverage on 100 of collateral: 10 lots at 100.00 is the most.
    events.push(limit(seller, 1, Side::Ask, 10_000, 11, SEC + 1));
    events.push(limit(seller, 2, Side::Ask, 10_000, 5, SEC + 2));
    events.push(limit(buyer, 1, Side::Bid, 10_000, 3, SEC + 3));
    events.push(order(buyer, 2, Side::Bid, 10_000, 2, gavel_feeds::wire::order_flags::TYPE_IOC, SEC + 4));
    run(&mut engine, &events, &mut out);
    let reports = of_kind(&out, EventKind::ExecReport);
    let reject = reports[0];
    assert_eq!((reject.flags & report::TYPE_MASK, reject.flags >> report::REASON_SHIFT), (report::REJECT, gavel_engine::engine::reject_code::MARGIN));
    let book = &engine.ledger().book;
    assert_eq!(book.account(buyer).position(0).map(|p| p.size), Some(5));
    assert_eq!(book.account(seller).position(0).map(|p| p.size), Some(-5));
    // The taker paid 0.05 % and the maker 0.02 % of 500.
    assert_eq!(engine.ledger().fee_pool(), quote(500) * 7 / 10_000);
    // A reduce-only sell of more than the position is capped at it.
    out.clear();
    run(&mut engine, &[order(buyer, 3, Side::Ask, 9_000, 50, gavel_feeds::wire::order_flags::TYPE_IOC | gavel_feeds::wire::order_flags::REDUCE_ONLY, SEC + 5)], &mut out);
    let ack = of_kind(&out, EventKind::ExecReport)[0];
    assert_eq!(ack.flags & report::TYPE_MASK, report::ACK);
    // No bids rest in the own book: the capped IOC is cancelled whole.
    let cancel = of_kind(&out, EventKind::ExecReport).into_iter().find(|e| e.flags & report::TYPE_MASK == report::CANCEL).expect("cancel");
    assert_eq!(cancel.payload::<ExecReport>().qty, 5);
}

/// The victim's partial liquidation in an auction that nobody takes, then a route stage;
/// at 2.3 s the venue book moves to `bid`/`bid + 2.00`, and timers run to 2.6 s.
fn run_away_auction(abort_bps: u32, bid: i64) -> (gavel_engine::engine::Engine, Vec<gavel_feeds::wire::Event>, i64) {
    run_away_auction_until(abort_bps, bid, false, 6)
}

/// As [`run_away_auction`], with `escalate_when_stopped` set as given and timers every
/// 100 ms up to `2 s + last_tenth × 100 ms`.
fn run_away_auction_until(abort_bps: u32, bid: i64, escalate: bool, last_tenth: i64) -> (gavel_engine::engine::Engine, Vec<gavel_feeds::wire::Event>, i64) {
    let (mut engine, events) = run_away_setup(abort_bps, bid, escalate, last_tenth);
    let mut out = Vec::new();
    run(&mut engine, &events, &mut out);
    let planned = of_kind(&out, EventKind::LiquidationUpdate)[0].payload::<LiquidationNotice>().qty;
    (engine, out, planned)
}

/// The engine and input events of [`run_away_auction_until`], not yet run.
fn run_away_setup(abort_bps: u32, bid: i64, escalate: bool, last_tenth: i64) -> (gavel_engine::engine::Engine, Vec<gavel_feeds::wire::Event>) {
    run_away_setup_confirmed(abort_bps, 0, bid, escalate, last_tenth)
}

/// As [`run_away_setup`], with the stop's confirmation time `confirm_ns`.
fn run_away_setup_confirmed(abort_bps: u32, confirm_ns: i64, bid: i64, escalate: bool, last_tenth: i64) -> (gavel_engine::engine::Engine, Vec<gavel_feeds::wire::Event>) {
    let mut a = Accounts::new();
    victim_book(&mut a);
    let short = a.add("short", 1_000_000);
    a.position(short, -10, 10_000);
    let policy = policy("partial", |p| {
        p.stages = vec![Stage::Auction, Stage::Route];
        p.auction_abort_bps = abort_bps;
        p.auction_stop_confirm_ns = confirm_ns;
        p.escalate_when_stopped = escalate;
    });
    let engine = engine(a.ledger(0), policy, |_| {});
    let mut events = quotes(None, 9_900, 10_100, 1_000, SEC);
    events.extend(quotes(Some((9_900, 10_100)), 8_300, 8_500, 1_000, 2 * SEC));
    events.push(timer(2 * SEC + 1));
    events.push(timer(2 * SEC + 200_000_000));
    events.extend(quotes(Some((8_300, 8_500)), bid, bid + 200, 1_000, 2 * SEC + 300_000_000));
    events.extend((4..=last_tenth).map(|k| timer(2 * SEC + k * 100_000_000)));
    (engine, events)
}

#[test]
fn an_auction_stops_when_the_mark_runs_away_and_the_whole_position_goes_to_market() {
    // Mark 84.00 at the trigger, 83.00 at 2.3 s: 119 bps against the sale.
    let (_, out, planned) = run_away_auction(10, 8_200);
    assert!(planned > 0 && planned < 10, "a partial plan: {planned}");
    let ends = of_kind(&out, EventKind::AuctionUpdate).into_iter().filter(|e| e.flags == auction_update::END).count();
    assert_eq!(ends, 1, "the mark of 2.3 s stops it");
    let intents = of_kind(&out, EventKind::RoutedIntent);
    assert_eq!(intents.len(), 1, "one market round");
    let intent: gavel_feeds::wire::RoutedIntent = intents[0].payload();
    assert_eq!(intent.qty, 10, "the whole open position, not the partial plan");
    // At that mark, not at the next auction step (2.5 s).
    assert_eq!(intents[0].receive_ns, 2 * SEC + 300_000_000);
    let end = of_kind(&out, EventKind::AuctionUpdate).into_iter().find(|e| e.flags == auction_update::END).expect("end");
    assert_eq!(end.receive_ns, 2 * SEC + 300_000_000);

    // Without the stop, or with a move below it (84.00 → 83.96, 4.8 bps), the auction runs on.
    for (abort, bid) in [(0, 8_200), (10, 8_296)] {
        let (_, out, _) = run_away_auction(abort, bid);
        assert!(of_kind(&out, EventKind::AuctionUpdate).iter().all(|e| e.flags != auction_update::END), "abort {abort}, bid {bid}");
        assert!(of_kind(&out, EventKind::RoutedIntent).is_empty(), "abort {abort}, bid {bid}");
    }
}

#[test]
fn a_confirmed_stop_waits_for_the_mark_to_stay_past_it() {
    let end_time = |out: &[gavel_feeds::wire::Event]| {
        of_kind(out, EventKind::AuctionUpdate).into_iter().find(|e| e.flags == auction_update::END).map(|e| e.receive_ns)
    };
    // The mark passes the stop at 2.3 s and stays: with a 100 ms confirmation the stop
    // fires at the 2.4 s mark, not at 2.3 s (and before the 2.5 s auction step).
    let (mut engine, events) = run_away_setup_confirmed(10, 100_000_000, 8_200, true, 6);
    let mut out = Vec::new();
    run(&mut engine, &events, &mut out);
    assert_eq!(end_time(&out), Some(2 * SEC + 400_000_000));
    // A gap that is back before the next mark (2.3 s → 2.35 s) does not stop it.
    let (mut engine, mut events) = run_away_setup_confirmed(10, 100_000_000, 8_200, true, 6);
    let back = events.iter().position(|e| e.receive_ns > 2 * SEC + 300_000_000).expect("timers after the move");
    let recovery = quotes(Some((8_200, 8_400)), 8_300, 8_500, 1_000, 2 * SEC + 350_000_000);
    events.splice(back..back, recovery);
    let mut out = Vec::new();
    run(&mut engine, &events, &mut out);
    assert_eq!(end_time(&out), None, "the auction runs on");
    assert!(of_kind(&out, EventKind::RoutedIntent).is_empty());
}

#[test]
fn an_engine_restored_mid_auction_stops_it_at_the_same_mark() {
    // Straight through, and snapshotted at 2.2 s (the auction open, the market not yet
    // gone) then restored into a fresh engine: the stop must come at the 2.3 s mark in both.
    let (mut straight, events) = run_away_setup(10, 8_200, true, 40);
    let split = events.iter().position(|e| e.receive_ns > 2 * SEC + 200_000_000).expect("events after 2.2 s");
    let mut all = Vec::new();
    run(&mut straight, &events, &mut all);
    let (mut first, _) = run_away_setup(10, 8_200, true, 40);
    let mut before = Vec::new();
    run(&mut first, &events[..split], &mut before);
    assert!(of_kind(&before, EventKind::AuctionUpdate).iter().any(|e| e.flags == auction_update::START), "the auction is open at the snapshot");
    let mut bytes = Vec::new();
    first.write_snapshot(&mut bytes).expect("snapshot");
    let (mut restored, _) = run_away_setup(10, 8_200, true, 40);
    restored.restore_snapshot(&bytes).expect("restore");
    let mut after = Vec::new();
    run(&mut restored, &events[split..], &mut after);
    assert_eq!(before.len() + after.len(), all.len());
    assert!(all[before.len()..] == after[..], "the restored engine's outputs differ from the straight run's");
    let end = of_kind(&after, EventKind::AuctionUpdate).into_iter().find(|e| e.flags == auction_update::END).expect("end");
    assert_eq!(end.receive_ns, 2 * SEC + 300_000_000);
    assert_eq!(restored.state_hash(), straight.state_hash());
}

#[test]
fn a_stopped_auction_escalates_at_once_when_the_policy_says_so() {
    // The market round goes out at 2.3 s (the mark that stops the auction) and nothing
    // fills it; its 2 s time-out ends the stages at 4.3 s. Timers run to 6.0 s, past the
    // 1 s retry.
    let triggers = |out: &[gavel_feeds::wire::Event]| {
        of_kind(out, EventKind::LiquidationUpdate).iter().filter(|e| e.flags == liquidation_stage::TRIGGERED).count()
    };
    let (engine, out, _) = run_away_auction_until(10, 8_200, true, 40);
    let adl = adl_records(&out);
    assert_eq!(adl.iter().map(|e| e.amount).sum::<i64>(), 10, "the whole position is deleveraged");
    let adl_times: Vec<i64> = of_kind(&out, EventKind::LedgerRecord).iter().filter(|e| e.flags == ledger_record::ADL).map(|e| e.receive_ns).collect();
    assert!(!adl_times.is_empty() && adl_times.iter().all(|&t| t == 4 * SEC + 300_000_000), "at the end of the stages: {adl_times:?}");
    assert_eq!(triggers(&out), 1, "no second episode");
    assert_eq!(engine.metrics().volume.adl, 10);
    // Without it the account waits for its retry: a second episode, no ADL yet at 6.0 s.
    let (_, out, _) = run_away_auction_until(10, 8_200, false, 40);
    assert!(adl_records(&out).is_empty());
    assert_eq!(triggers(&out), 2);
    // An auction that was not stopped is not escalated by the flag.
    let (_, out, _) = run_away_auction_until(10, 8_296, true, 40);
    assert!(adl_records(&out).is_empty());
}

#[test]
fn the_deficit_an_account_already_has_at_its_first_trigger_is_counted_once() {
    let mut a = Accounts::new();
    // Bankrupt below 80.00: found at a mark of 76.00, it is 10 × 4.00 short of solvent.
    victim_book(&mut a);
    // Liquidatable below 84.21 but solvent down to 75.00: no deficit at 76.00.
    let solvent = a.add("solvent", 250);
    a.position(solvent, 10, 10_000);
    let short = a.add("short", 1_000_000);
    a.position(short, -20, 10_000);
    // A 10 s auction nobody takes keeps both positions open while the price falls further.
    let mut engine = engine(a.ledger(0), policy("partial", |p| p.stages = vec![Stage::Auction]), |_| {});
    let mut out = Vec::new();
    let mut events = quotes(None, 9_900, 10_100, 1_000, SEC);
    events.extend(quotes(Some((9_900, 10_100)), 7_500, 7_700, 1_000, 2 * SEC));
    events.push(timer(2 * SEC + 1));
    // A later, deeper mark adds nothing: only the first trigger counts.
    events.extend(quotes(Some((7_500, 7_700)), 6_000, 6_200, 1_000, 5 * SEC));
    events.push(timer(5 * SEC + 1));
    run(&mut engine, &events, &mut out);
    assert_eq!(engine.metrics().accounts_touched, 2, "both accounts were liquidated");
    assert!(engine.ledger().book.account(solvent).position(0).is_some_and(|p| p.size == 10), "still open at the deeper mark");
    assert_eq!(engine.metrics().deficit_at_first_trigger, quote(40));
}
