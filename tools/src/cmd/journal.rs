//! `gavel journal dump FILE [--json]`: the engine's binary journal as text or
//! JSON lines, one record per line, in order. `gavel journal verify --data-dir D`:
//! replay a `gavel serve` input journal from its first record and print the state.

use std::fmt::Write as _;
use std::path::PathBuf;

use gavel_feeds::journal;
use gavel_feeds::wire::{
    auction_update, ledger_record, liquidation_stage, report, AuctionNotice, Event, EventKind, ExecReport, LedgerEntry, LiquidationNotice, MarkPrice, OrderRef, PriceLevel,
    RoutedIntent, TradePrint, Venue,
};
use serde_json::json;

/// `gavel journal` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum JournalCommand {
    /// Print every record of a journal file.
    Dump(DumpArgs),
    /// Replay a `gavel serve` input journal from the first record (ignoring snapshots) and print the state.
    Verify(VerifyArgs),
}

/// Arguments of `gavel journal verify`.
#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    /// The data dir of `gavel serve`.
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Print one JSON object (the fields of `gavel recover --json`).
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `gavel journal dump`.
#[derive(clap::Args, Debug)]
pub struct DumpArgs {
    /// The journal file (`gavel replay --journal`, `gavel compare --journal-dir`).
    pub file: PathBuf,
    /// One JSON object per line instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs a `gavel journal` subcommand.
pub fn run(command: JournalCommand) -> anyhow::Result<()> {
    match command {
        JournalCommand::Dump(args) => dump(&args),
        JournalCommand::Verify(args) => verify(&args),
    }
}

fn verify(args: &VerifyArgs) -> anyhow::Result<()> {
    let (engine, replay) = crate::cmd::recover::rebuild(&args.data_dir, crate::serve::recovery::Start::FirstRecord, None)?;
    let summary = crate::cmd::recover::summary(&engine, &replay);
    if args.json {
        println!("{summary}");
    } else {
        println!("gavel journal verify: {summary}");
    }
    anyhow::ensure!(engine.ledger().check_conservation() == 0, "the replayed ledger does not balance");
    Ok(())
}

fn dump(args: &DumpArgs) -> anyhow::Result<()> {
    let journal = journal::read(&args.file).map_err(|e| anyhow::anyhow!(e))?;
    let mut out = String::with_capacity(journal.records.len() * 96);
    for (i, e) in journal.records.iter().enumerate() {
        if args.json {
            let _ = writeln!(out, "{}", to_json(i, e));
        } else {
            let _ = writeln!(out, "{}", to_text(i, e));
        }
        if out.len() > 1 << 20 {
            print!("{out}");
            out.clear();
        }
    }
    print!("{out}");
    if journal.torn_tail_bytes > 0 {
        eprintln!("warning: {}: {} bytes after the last whole record ignored (torn tail)", args.file.display(), journal.torn_tail_bytes);
    }
    Ok(())
}

fn venue_name(code: u8) -> &'static str {
    Venue::from_u8(code).map_or("unknown", Venue::name)
}

fn stage_name(code: u8) -> &'static str {
    match code {
        liquidation_stage::TRIGGERED => "triggered",
        liquidation_stage::OWN_BOOK => "own_book",
        liquidation_stage::AUCTION => "auction",
        liquidation_stage::ROUTED => "routed",
        liquidation_stage::BACKSTOP => "backstop",
        liquidation_stage::ADL => "adl",
        liquidation_stage::ZERO_FILL => "zero_fill",
        liquidation_stage::DONE => "done",
        liquidation_stage::PREEMPTIVE => "preemptive",
        _ => "unknown",
    }
}

fn auction_name(code: u8) -> &'static str {
    match code {
        auction_update::START => "start",
        auction_update::PRICE => "price",
        auction_update::TAKEN => "taken",
        auction_update::END => "end",
        _ => "unknown",
    }
}

fn ledger_name(code: u8) -> &'static str {
    match code {
        ledger_record::FILL => "fill",
        ledger_record::EXTERNAL_FILL => "external_fill",
        ledger_record::PENALTY => "penalty",
        ledger_record::FUND_DRAW => "fund_draw",
        ledger_record::BAD_DEBT => "bad_debt",
        ledger_record::ADL => "adl",
        ledger_record::FEE => "fee",
        _ => "unknown",
    }
}

fn report_name(flags: u8) -> &'static str {
    match flags & report::TYPE_MASK {
        report::ACK => "ack",
        report::FILL => "fill",
        report::CANCEL => "cancel",
        report::REJECT => "reject",
        _ => "unknown",
    }
}

/// The record's kind name and its fields as `(name, value)` pairs.
fn fields(e: &Event) -> (&'static str, Vec<(&'static str, serde_json::Value)>) {
    let side = match e.side {
        1 => "buy",
        2 => "sell",
        _ => "-",
    };
    match e.kind() {
        Some(EventKind::MarkPrice) => ("mark", vec![("mark", json!(e.payload::<MarkPrice>().mark))]),
        Some(EventKind::Trade) => {
            let t: TradePrint = e.payload();
            ("trade", vec![("aggressor", json!(side)), ("price", json!(t.price)), ("qty", json!(t.qty)), ("trade_id", json!(t.trade_id))])
        }
        Some(EventKind::ExecReport) => {
            let r: ExecReport = e.payload();
            let mut f = vec![("type", json!(report_name(e.flags))), ("client_order_id", json!(e.sequence)), ("account", json!(r.account)), ("side", json!(side)), ("price", json!(r.price)), ("qty", json!(r.qty))];
            if e.flags & report::TYPE_MASK == report::REJECT {
                f.push(("reason", json!(e.flags >> report::REASON_SHIFT)));
            }
            ("exec", f)
        }
        Some(EventKind::LiquidationUpdate) => {
            let n: LiquidationNotice = e.payload();
            ("liquidation", vec![("id", json!(e.sequence)), ("stage", json!(stage_name(e.flags))), ("account", json!(n.account)), ("side", json!(side)), ("price", json!(n.price)), ("qty", json!(n.qty))])
        }
        Some(EventKind::AuctionUpdate) => {
            let n: AuctionNotice = e.payload();
            ("auction", vec![("id", json!(e.sequence)), ("update", json!(auction_name(e.flags))), ("account", json!(n.account)), ("price", json!(n.price)), ("remaining", json!(n.remaining))])
        }
        Some(EventKind::RoutedIntent) => {
            let r: RoutedIntent = e.payload();
            ("intent", vec![("id", json!(e.sequence)), ("venue", json!(venue_name(e.venue))), ("side", json!(side)), ("liquidation", json!(r.liquidation)), ("limit", json!(r.limit)), ("qty", json!(r.qty))])
        }
        Some(EventKind::LedgerRecord) => {
            let l: LedgerEntry = e.payload();
            let (account, counterparty) = gavel_engine::risk::ledger_accounts(l.accounts);
            let mut f = vec![("type", json!(ledger_name(e.flags))), ("account", json!(account))];
            if let Some(counterparty) = counterparty {
                f.push(("counterparty", json!(counterparty)));
            }
            f.push(("price", json!(l.price)));
            f.push(("amount", json!(l.amount)));
            ("ledger", f)
        }
        Some(EventKind::BookLevel | EventKind::SnapshotLevel) => {
            let l: PriceLevel = e.payload();
            ("level", vec![("venue", json!(venue_name(e.venue))), ("side", json!(side)), ("price", json!(l.price)), ("qty", json!(l.qty))])
        }
        Some(EventKind::IntentFill) => {
            let f: OrderRef = e.payload();
            ("intent_fill", vec![("id", json!(e.sequence)), ("price", json!(f.price)), ("qty", json!(f.qty)), ("done", json!(e.flags & 1 != 0))])
        }
        Some(EventKind::MarginCall) => {
            let c: gavel_feeds::wire::MarginCallNotice = e.payload();
            ("margin_call", vec![("account", json!(c.account)), ("liquidation_price", json!(c.liquidation_price)), ("distance_sigma_milli", json!(c.distance_sigma_milli))])
        }
        Some(EventKind::PositionUpdate) => {
            let p: gavel_feeds::wire::PositionNotice = e.payload();
            ("position", vec![("account", json!(p.account)), ("position", json!(p.position))])
        }
        Some(EventKind::BidReport) => {
            let b: gavel_feeds::wire::BidReport = e.payload();
            let accepted = e.flags & report::TYPE_MASK == report::FILL;
            ("take", vec![("id", json!(e.sequence)), ("liquidator", json!(b.liquidator_and_auction & u64::from(u32::MAX))), ("auction", json!(b.liquidator_and_auction >> 32)), ("accepted", json!(accepted)), ("price", json!(b.price)), ("qty", json!(b.qty))])
        }
        _ => ("raw", vec![("kind", json!(e.kind)), ("payload", json!(e.payload))]),
    }
}

fn to_text(index: usize, e: &Event) -> String {
    let (name, fields) = fields(e);
    let mut line = format!("{index} t={} {name} instrument={}", e.receive_ns, e.instrument);
    for (k, v) in fields {
        let v = match v {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        };
        let _ = write!(line, " {k}={v}");
    }
    line
}

fn to_json(index: usize, e: &Event) -> serde_json::Value {
    let (name, fields) = fields(e);
    let mut map = serde_json::Map::new();
    map.insert("seq".into(), json!(index));
    map.insert("t_ns".into(), json!(e.receive_ns));
    map.insert("record".into(), json!(name));
    map.insert("instrument".into(), json!(e.instrument));
    for (k, v) in fields {
        map.insert(k.into(), v);
    }
    serde_json::Value::Object(map)
}
