//! Engine snapshots: an engine restored from a snapshot taken after any input continues exactly
//! as the engine it was taken from — the same outputs byte for byte, the same final state — over
//! closed-loop runs with own-book trading, auctions and bids, routed intents and their fills,
//! the backstop and ADL, under every built-in policy. A snapshot of another engine's shape, or
//! a damaged one, is refused and leaves the engine unchanged.

mod engine_common;

use std::collections::BTreeMap;

use engine_common::*;
use gavel_engine::engine::{Engine, BUILTIN_POLICIES};
use gavel_feeds::wire::{auction_update, AuctionNotice, Event, EventKind, RoutedIntent, Side};
use proptest::prelude::*;

#[derive(Debug)]
struct Scenario {
    steps: Vec<i64>,
    sizes: Vec<(i64, i64)>,
    policy_index: usize,
    bid_every: u8,
    fill_share: u8,
    session_outputs: bool,
}

fn build(s: &Scenario) -> Engine {
    let mut a = Accounts::new();
    let vault = a.add("vault", 1_000_000);
    let keeper = a.add("keeper", 1_000_000);
    let _mm = a.add("mm", 1_000_000);
    let _taker = a.add("taker", 1_000_000);
    for (k, &(size, collateral)) in s.sizes.iter().enumerate() {
        let id = a.add(&format!("u{k}"), collateral);
        a.position(id, size, 10_000);
    }
    let name = BUILTIN_POLICIES[s.policy_index % BUILTIN_POLICIES.len()];
    engine(a.ledger(2_000), policy(name, |_| {}), |c| {
        c.backstop_account = Some(vault);
        c.liquidators = vec![(1, keeper)];
        c.session_outputs = s.session_outputs;
        // Small pools: the test builds hundreds of engines.
        c.book.order_capacity = 1 << 10;
        c.book.level_capacity = 256;
        c.mirror_levels = 64;
        c.max_liquidations = 256;
    })
}

/// Runs the scenario closed-loop (bids answer auction notices, fills answer routed intents) and
/// returns every input in the order the engine consumed it, with the outputs of each.
fn record(s: &Scenario) -> (Vec<Event>, Vec<Vec<Event>>) {
    let (mm, taker) = (2, 3);
    let mut engine = build(s);
    let mut queue: BTreeMap<(i64, u64), Event> = BTreeMap::new();
    let mut seq = 0u64;
    let mut push = |q: &mut BTreeMap<(i64, u64), Event>, e: Event| {
        seq += 1;
        q.insert((e.receive_ns, seq), e);
    };
    let mut mid = 10_000i64;
    let mut prev = None;
    for (k, step) in s.steps.iter().enumerate() {
        let t = SEC + k as i64 * 250_000_000;
        mid = (mid + step).clamp(1_000, 20_000);
        for e in quotes(prev, mid - 5, mid + 5, 50, t) {
            push(&mut queue, e);
        }
        prev = Some((mid - 5, mid + 5));
        let id = k as u64 * 4;
        match k % 4 {
            0 => push(&mut queue, limit(mm, id, Side::Bid, mid - 20, 3, t)),
            1 => push(&mut queue, limit(mm, id + 1, Side::Ask, mid + 20, 3, t)),
            2 => push(&mut queue, limit(taker, id + 2, Side::Bid, mid + 25, 2, t)),
            _ => push(&mut queue, timer(t + 1)),
        }
        // Implied-vol quotes now and then: margin calls read them, so a snapshot carries them.
        if k % 8 == 5 {
            let quote = gavel_feeds::wire::ImpliedVolQuote { vol_e6: 400_000 + k as i64 * 50_000, tenor_ns: 0, reserved: 0 };
            push(&mut queue, Event::new(EventKind::ImpliedVol, gavel_feeds::wire::Venue::Gavel, 0, quote).with_times(0, t + 2, t + 2));
        }
    }
    let (mut inputs, mut outputs) = (Vec::new(), Vec::new());
    let mut bids = 0u64;
    let mut out = Vec::new();
    while let Some((_, e)) = queue.pop_first() {
        out.clear();
        engine.on_event(&e, &mut out);
        inputs.push(e);
        outputs.push(out.clone());
        let now = engine.now();
        for o in &out {
            match o.kind() {
                Some(EventKind::RoutedIntent) => {
                    let intent: RoutedIntent = o.payload();
                    let qty = intent.qty * i64::from(s.fill_share) / 4;
                    push(&mut queue, intent_fill(o.sequence, intent.limit, qty, true, now + 1_000_000));
                }
                Some(EventKind::AuctionUpdate) if o.flags == auction_update::START || o.flags == auction_update::PRICE => {
                    bids += 1;
                    if s.bid_every > 0 && bids.is_multiple_of(u64::from(s.bid_every)) {
                        let n: AuctionNotice = o.payload();
                        push(&mut queue, bid(1, o.sequence as u32, n.price, n.remaining.max(1), now + 2_000_000));
                    }
                }
                _ => {}
            }
        }
        if queue.is_empty() && engine.active_liquidations() > 0 && inputs.len() < 100_000 {
            push(&mut queue, timer(now + 500_000_000));
        }
    }
    (inputs, outputs)
}

/// Panics with the first difference of two snapshots (the JSON around it), if any.
fn same_snapshot(a: &[u8], b: &[u8], what: &str) {
    if a != b {
        let at = a.iter().zip(b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
        let around = |s: &[u8]| String::from_utf8_lossy(&s[at.saturating_sub(300)..(at + 200).min(s.len())]).into_owned();
        panic!("{what}: snapshots differ at byte {at}:\n{}\n---\n{}", around(a), around(b));
    }
}

fn snapshot(engine: &Engine) -> Vec<u8> {
    let mut bytes = Vec::new();
    engine.write_snapshot(&mut bytes).expect("snapshot");
    bytes
}

/// Snapshot after `cut` inputs, restore into a fresh engine, run the rest: same outputs, same end.
fn check_cut(s: &Scenario, inputs: &[Event], outputs: &[Vec<Event>], cut: usize) {
    let mut first = build(s);
    let mut out = Vec::new();
    for e in &inputs[..cut] {
        first.on_event(e, &mut out);
    }
    let taken = snapshot(&first);
    let mut restored = build(s);
    restored.restore_snapshot(&taken).expect("restore");
    same_snapshot(&snapshot(&restored), &taken, "a restored engine's snapshot is the snapshot it was restored from");
    assert_eq!(restored.state_hash(), first.state_hash());
    for (k, e) in inputs[cut..].iter().enumerate() {
        out.clear();
        restored.on_event(e, &mut out);
        assert_eq!(out, outputs[cut + k], "outputs of input {} after a restore at {cut}", cut + k);
        out.clear();
        first.on_event(e, &mut out);
    }
    same_snapshot(&snapshot(&restored), &snapshot(&first), &format!("final state after a restore at {cut}"));
    assert_eq!(restored.ledger().check_conservation(), 0);
}

fn scenario_strategy() -> impl Strategy<Value = Scenario> {
    (
        prop::collection::vec(-150i64..100, 8..50),
        prop::collection::vec((prop_oneof![-40i64..-1, 1i64..40], 50i64..800), 1..8),
        0usize..5,
        0u8..4,
        0u8..=4,
        any::<bool>(),
    )
        .prop_map(|(steps, sizes, policy_index, bid_every, fill_share, session_outputs)| Scenario {
            steps,
            sizes,
            policy_index,
            bid_every,
            fill_share,
            session_outputs,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]
    #[test]
    fn a_restored_engine_continues_exactly(s in scenario_strategy(), cuts in prop::collection::vec(0.0f64..1.0, 3)) {
        let (inputs, outputs) = record(&s);
        for c in cuts {
            check_cut(&s, &inputs, &outputs, (c * inputs.len() as f64) as usize);
        }
        check_cut(&s, &inputs, &outputs, inputs.len());
    }
}

fn crash() -> Scenario {
    Scenario {
        steps: (0..60).map(|k| if k < 30 { -60 } else { 10 }).collect(),
        sizes: vec![(30, 400), (-20, 300), (25, 200), (10, 120), (-5, 900)],
        policy_index: 0,
        bid_every: 2,
        fill_share: 2,
        session_outputs: true,
    }
}

#[test]
fn snapshots_mid_liquidation_restore_exactly_under_every_policy() {
    for (policy_index, name) in BUILTIN_POLICIES.iter().enumerate() {
        let s = Scenario { policy_index, ..crash() };
        let (inputs, outputs) = record(&s);
        // Cut where liquidations are in flight: right after the first auction or intent.
        let busy = outputs
            .iter()
            .position(|o| o.iter().any(|e| matches!(e.kind(), Some(EventKind::AuctionUpdate | EventKind::RoutedIntent | EventKind::LiquidationUpdate))))
            .expect("the crash liquidates");
        for cut in [busy + 1, busy + 7, (busy + inputs.len()) / 2] {
            let mut probe = build(&s);
            let mut out = Vec::new();
            for e in &inputs[..cut] {
                probe.on_event(e, &mut out);
            }
            check_cut(&s, &inputs, &outputs, cut);
            if cut == busy + 1 {
                assert!(probe.active_liquidations() > 0, "{name}: a liquidation is in flight at the cut");
            }
        }
    }
}

#[test]
fn a_snapshot_of_another_shape_or_damaged_is_refused_and_changes_nothing() {
    let s = crash();
    let (inputs, _) = record(&s);
    let mut source = build(&s);
    let mut out = Vec::new();
    for e in &inputs[..inputs.len() / 2] {
        source.on_event(e, &mut out);
    }
    let taken = snapshot(&source);
    let fewer_accounts = Scenario { sizes: vec![(30, 400)], ..crash() };
    let mut other = build(&fewer_accounts);
    let before = snapshot(&other);
    let err = other.restore_snapshot(&taken).expect_err("another shape");
    assert!(err.contains("accounts"), "{err}");
    assert_eq!(snapshot(&other), before, "a refused snapshot changes nothing");

    let mut target = build(&s);
    let before = snapshot(&target);
    let text = String::from_utf8(taken.clone()).unwrap();
    for damaged in [text[..text.len() / 2].to_string(), text.replacen("\"now\"", "\"later\"", 1), text.replacen("{", "[", 1)] {
        assert!(target.restore_snapshot(damaged.as_bytes()).is_err());
        assert_eq!(snapshot(&target), before);
    }
    // An ADL ranking naming an account this engine does not have.
    let cache = text.find("\"adl_cache\":").expect("the snapshot holds the ADL ranking");
    let list = cache + text[cache..].find("\"list\":[").expect("its list") + "\"list\":[".len();
    let bogus = r#"{"account":4000000000,"weight":1,"cap":1,"alloc":0,"remainder":0,"fixed":false}"#;
    let sep = if text[list..].starts_with(']') { "" } else { "," };
    let damaged = format!("{}{bogus}{sep}{}", &text[..list], &text[list..]);
    let err = target.restore_snapshot(damaged.as_bytes()).expect_err("account out of range");
    assert!(err.contains("adl_cache") && err.contains("4000000000"), "{err}");
    assert_eq!(snapshot(&target), before);
    target.restore_snapshot(&taken).expect("the undamaged snapshot");
    assert_eq!(target.state_hash(), source.state_hash());
}

/// Found by the proptest above: the ADL ranking an engine keeps between ADLs was not in
/// the snapshot, so an engine restored while a ranking was in use ranked again and chose
/// other counterparties (and the liquidation that followed took another route).
#[test]
fn the_adl_ranking_in_use_survives_a_restore() {
    let s = Scenario { steps: vec![-65, -70, -134, 0, 0, -1, 0, 0], sizes: vec![(-16, 70), (29, 219)], policy_index: 0, bid_every: 0, fill_share: 1, session_outputs: false };
    let (inputs, outputs) = record(&s);
    for cut in 0..=inputs.len() {
        check_cut(&s, &inputs, &outputs, cut);
    }
}
