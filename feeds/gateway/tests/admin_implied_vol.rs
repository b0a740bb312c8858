//! An admin session pushes option-implied vols to the engine (template 62): the quote
//! reaches the engine's input ring as an `ImpliedVol` event; a trader's is refused as not
//! permitted, an out-of-range value as a bad field, and neither reaches the engine.

mod gateway_common;

use std::time::Duration;

use gateway_common::Harness;
use gavel_feeds::ring::Consumer;
use gavel_feeds::wire::{Event, EventKind, ImpliedVolQuote};
use gavel_gateway::auth::ApiKey;
use gavel_gateway::client::Client;
use gavel_gateway::protocol::{reason, role, ImpliedVol, Message};

/// The next event on the engine's input ring within `within`, past the gateway's timers.
fn next_input(engine_in: &mut Consumer<Event>, within: Duration) -> Option<Event> {
    let deadline = std::time::Instant::now() + within;
    loop {
        if let Some(e) = engine_in.try_pop() {
            if e.kind() != Some(EventKind::Timer) {
                return Some(e);
            }
            continue;
        }
        if std::time::Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn rejected(c: &mut Client) -> u16 {
    match c.recv_until(Duration::from_secs(5), |m| matches!(m, Message::SessionReject(_))).unwrap() {
        Some(Message::SessionReject(r)) => r.reason,
        other => panic!("expected a reject, got {other:?}"),
    }
}

#[test]
fn only_an_admin_pushes_implied_vols_and_only_in_range() {
    let admin = ApiKey { id: 1, secret: [5; 32], account: 0, role: role::ADMIN };
    let trader = ApiKey { id: 2, secret: [6; 32], account: 3, role: role::TRADER };
    let mut h = Harness::start("gavel-implied-test", vec![admin.clone(), trader.clone()], |_| {});
    let (addr, engine_in) = (h.addr, &mut h.engine_in);
    let mut a = Client::connect_logon(addr, admin.id, &admin.secret).unwrap();
    a.send(&Message::ImpliedVol(ImpliedVol { instrument: 2, vol_e6: 650_000 })).unwrap();
    let e = next_input(engine_in, Duration::from_secs(5)).expect("the quote reaches the engine");
    assert_eq!((e.kind(), e.instrument), (Some(EventKind::ImpliedVol), 2));
    assert_eq!(e.payload::<ImpliedVolQuote>().vol_e6, 650_000);

    for bad in [0, -1, gavel_feeds::wire::MAX_IMPLIED_VOL_E6 + 1] {
        a.send(&Message::ImpliedVol(ImpliedVol { instrument: 0, vol_e6: bad })).unwrap();
        assert_eq!(rejected(&mut a), reason::BAD_FIELD, "{bad}");
    }
    let mut t = Client::connect_logon(addr, trader.id, &trader.secret).unwrap();
    t.send(&Message::ImpliedVol(ImpliedVol { instrument: 0, vol_e6: 500_000 })).unwrap();
    assert_eq!(rejected(&mut t), reason::NOT_PERMITTED);
    assert!(next_input(engine_in, Duration::from_millis(200)).is_none(), "a refused quote never reaches the engine");
    h.stop();
}
