//! `sbe/gavel.xml` against the Rust protocol: the schema root and header
//! composite, every message's id, name, block length and fields (names, types,
//! sizes, offsets), the enumerations against the Rust constants, and then every
//! template decoded both ways: a frame laid out from the schema's offsets must
//! decode in Rust to the same field values, and a frame encoded in Rust must
//! hold each field at the schema's offset.
//!
//! Field names: Rust `snake_case` maps to schema `lowerCamelCase` by
//! capitalising the letter after each underscore (`md_sequence` ↔ `mdSequence`).

use std::collections::{BTreeMap, BTreeSet};

use gavel_gateway::protocol::{
    channel, decode_frame, encode_frame, order_flag, order_type, reason, role, side, CancelOrder, CancelReplace,
    Challenge, ExecutionReport, Field, AccountUpdate, AuctionUpdate, BookLevel, Heartbeat, ImpliedVol, LiquidationNotice,
    LiquidatorTake, Logon, LogonAck, MarginCall, LogonReject, Logout, MarkPrice, MassCancel, Message, NewOrder, PositionUpdate,
    ReplayRequest, SessionReject, SnapshotBegin, SnapshotEnd, SnapshotLevel, SnapshotRequest, Stats, StatsRequest,
    Subscribe, TakeReport, Trade, HEADER_LEN, MAX_FRAME_LEN, SCHEMA_ID, SCHEMA_VERSION, TEMPLATES,
};
use roxmltree::{Document, Node};

const SCHEMA_XML: &str = include_str!("../sbe/gavel.xml");
const SBE_NS: &str = "http://fixprotocol.io/2016/sbe";
/// Bytes of the frame length in front of the SBE header.
const FRAME_LENGTH_BYTES: usize = 4;

/// One field of the schema, its type resolved to a primitive.
#[derive(Clone, Debug)]
struct SchemaField {
    name: String,
    id: u16,
    type_name: String,
    primitive: String,
    size: usize,
    offset: usize,
}

#[derive(Clone, Debug)]
struct SchemaMessage {
    name: String,
    id: u16,
    block_length: usize,
    fields: Vec<SchemaField>,
}

#[derive(Debug)]
struct Schema {
    header: Vec<SchemaField>,
    messages: Vec<SchemaMessage>,
}

fn camel(snake: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn primitive_size(name: &str) -> Option<usize> {
    Some(match name {
        "char" | "int8" | "uint8" => 1,
        "int16" | "uint16" => 2,
        "int32" | "uint32" | "float" => 4,
        "int64" | "uint64" | "double" => 8,
        _ => return None,
    })
}

fn elements<'a, 'i>(node: Node<'a, 'i>) -> impl Iterator<Item = Node<'a, 'i>> {
    node.children().filter(|n| n.is_element())
}

fn attr<'a>(node: Node<'a, '_>, name: &str) -> &'a str {
    node.attribute(name)
        .unwrap_or_else(|| panic!("<{}> line {} lacks {name}", node.tag_name().name(), line(node)))
}

fn num<T: std::str::FromStr>(node: Node, name: &str) -> T {
    let text = attr(node, name);
    text.parse().unwrap_or_else(|_| panic!("{name}=\"{text}\" is not a number (line {})", line(node)))
}

fn line(node: Node) -> u32 {
    node.document().text_pos_at(node.range().start).row
}

fn root<'a, 'i>(doc: &'a Document<'i>) -> Node<'a, 'i> {
    doc.root_element()
}

/// The named types of the `<types>` sections.
fn types<'a, 'i>(doc: &'a Document<'i>) -> BTreeMap<String, Node<'a, 'i>> {
    let mut out = BTreeMap::new();
    for section in elements(root(doc)).filter(|n| n.tag_name().name() == "types") {
        for t in elements(section) {
            let name = attr(t, "name").to_string();
            assert!(out.insert(name.clone(), t).is_none(), "type {name} defined twice");
        }
    }
    out
}

/// `(primitive, bytes)` of a field type: a primitive, a `<type>` (times its
/// length), or an `<enum>`/`<set>` (its encoding type).
fn resolve(types: &BTreeMap<String, Node>, name: &str) -> (String, usize) {
    if let Some(size) = primitive_size(name) {
        return (name.to_string(), size);
    }
    let node = types.get(name).unwrap_or_else(|| panic!("type {name} is not defined"));
    match node.tag_name().name() {
        "type" => {
            let primitive = attr(*node, "primitiveType");
            let length: usize = node.attribute("length").map_or(1, |l| l.parse().expect("length"));
            (primitive.to_string(), primitive_size(primitive).expect("primitiveType") * length)
        }
        "enum" | "set" => resolve(types, attr(*node, "encodingType")),
        other => panic!("type {name} is a <{other}>, not usable as a field type here"),
    }
}

fn parse(doc: &Document) -> Schema {
    let types = types(doc);
    let header_node = types.get("messageHeader").expect("a messageHeader composite");
    assert_eq!(header_node.tag_name().name(), "composite");
    let header = elements(*header_node)
        .map(|t| {
            assert_eq!(t.tag_name().name(), "type", "header members are plain types");
            let primitive = attr(t, "primitiveType").to_string();
            SchemaField {
                name: attr(t, "name").to_string(),
                id: 0,
                type_name: primitive.clone(),
                size: primitive_size(&primitive).expect("primitive"),
                primitive,
                offset: num(t, "offset"),
            }
        })
        .collect();
    let messages = elements(root(doc))
        .filter(|n| n.tag_name().name() == "message")
        .map(|m| {
            assert_eq!(m.tag_name().namespace(), Some(SBE_NS), "<message> is sbe:message");
            let fields = elements(m)
                .map(|f| {
                    assert_eq!(f.tag_name().name(), "field", "only fixed fields (line {})", line(f));
                    let type_name = attr(f, "type").to_string();
                    let (primitive, size) = resolve(&types, &type_name);
                    SchemaField {
                        name: attr(f, "name").to_string(),
                        id: num(f, "id"),
                        type_name,
                        primitive,
                        size,
                        offset: num(f, "offset"),
                    }
                })
                .collect();
            SchemaMessage {
                name: attr(m, "name").to_string(),
                id: num(m, "id"),
                block_length: num(m, "blockLength"),
                fields,
            }
        })
        .collect();
    Schema { header, messages }
}

fn schema() -> Schema {
    let doc = Document::parse(SCHEMA_XML).expect("gavel.xml is well-formed XML");
    parse(&doc)
}

impl Schema {
    fn message(&self, id: u16) -> &SchemaMessage {
        self.messages.iter().find(|m| m.id == id).unwrap_or_else(|| panic!("schema has no message id {id}"))
    }

    fn header_field(&self, name: &str) -> &SchemaField {
        self.header.iter().find(|f| f.name == name).unwrap_or_else(|| panic!("header has no {name}"))
    }
}

/// A message of every template with its fields read from `value(rust field
/// name)` through [`Field::get`] — no offsets involved. The struct literals
/// name every field, so a field added to `messages.rs` fails to compile here.
fn build(template: u16, value: &dyn Fn(&str) -> Vec<u8>) -> Message {
    macro_rules! build {
        ($($name:ident { $($f:ident),* })*) => {
            match template {
                $( $name::TEMPLATE_ID => Message::from($name { $($f: Field::get(&value(stringify!($f)))),* }), )*
                other => panic!("no builder for template {other}"),
            }
        };
    }
    build! {
        Challenge { nonce }
        Logon { key_id, signature }
        LogonAck { account, role, heartbeat_ms }
        LogonReject { reason }
        Heartbeat { time_ns }
        SessionReject { ref_sequence, ref_template, reason }
        Logout { reason }
        NewOrder { client_order_id, instrument, side, order_type, flags, price, qty }
        CancelOrder { client_order_id, instrument }
        CancelReplace { orig_client_order_id, client_order_id, instrument, side, price, qty }
        MassCancel { instrument }
        ExecutionReport { client_order_id, instrument, exec_type, side, reason, price, qty, time_ns }
        Subscribe { channels }
        SnapshotRequest { instrument }
        BookLevel { md_sequence, instrument, side, price, qty }
        SnapshotBegin { md_sequence, instrument, levels }
        SnapshotLevel { instrument, side, price, qty }
        SnapshotEnd { md_sequence, instrument }
        Trade { md_sequence, instrument, side, price, qty, time_ns }
        MarkPrice { md_sequence, instrument, price, time_ns }
        ReplayRequest { from_sequence, to_sequence }
        LiquidationNotice { liquidation_id, instrument, stage, side, price, qty, time_ns }
        AccountUpdate { instrument, kind, price, amount, time_ns }
        PositionUpdate { instrument, position, time_ns }
        MarginCall { instrument, liquidation_price, distance_sigma_milli, time_ns }
        AuctionUpdate { auction_id, instrument, code, side, price, remaining, time_ns }
        LiquidatorTake { take_id, auction_id, max_price, qty }
        TakeReport { take_id, auction_id, accepted, reason, price, qty }
        StatsRequest { }
        Stats { sessions, logons, protocol_errors, rate_limited, slow_disconnects, orders_in, reports_out, input_ring_used, output_ring_used }
        ImpliedVol { instrument, vol_e6 }
    }
}

/// Distinct non-zero bytes for every field of `m` (keyed by schema name): byte
/// `k` of the message's values is `first + k`, so no two fields (and no two
/// bytes) are equal and no value is zero.
fn field_values(m: &SchemaMessage, first: u8) -> BTreeMap<String, Vec<u8>> {
    let mut next = first;
    m.fields
        .iter()
        .map(|f| {
            let bytes = (0..f.size)
                .map(|_| {
                    let b = next;
                    next = if next == u8::MAX { 1 } else { next + 1 };
                    b
                })
                .collect();
            (f.name.clone(), bytes)
        })
        .collect()
}

fn put(frame: &mut [u8], at: usize, bytes: &[u8]) {
    frame[at..at + bytes.len()].copy_from_slice(bytes);
}

/// A frame laid out purely from the schema: frame length, the header composite
/// at its offsets, each field's value at its offset in the block.
fn schema_frame(schema: &Schema, m: &SchemaMessage, sequence: u64, values: &BTreeMap<String, Vec<u8>>) -> Vec<u8> {
    let header_len: usize = schema.header.iter().map(|f| f.size).sum();
    let len = FRAME_LENGTH_BYTES + header_len + m.block_length;
    let mut frame = vec![0u8; len];
    put(&mut frame, 0, &(len as u32).to_le_bytes());
    let h = |name: &str| FRAME_LENGTH_BYTES + schema.header_field(name).offset;
    put(&mut frame, h("blockLength"), &(m.block_length as u16).to_le_bytes());
    put(&mut frame, h("templateId"), &m.id.to_le_bytes());
    put(&mut frame, h("schemaId"), &SCHEMA_ID.to_le_bytes());
    put(&mut frame, h("version"), &SCHEMA_VERSION.to_le_bytes());
    put(&mut frame, h("sequence"), &sequence.to_le_bytes());
    for f in &m.fields {
        put(&mut frame, FRAME_LENGTH_BYTES + header_len + f.offset, &values[&f.name]);
    }
    frame
}

/// Decodes every way between the schema's layout of `m` and the Rust codec;
/// returns what disagrees (empty when the two agree).
fn codec_mismatches(schema: &Schema, m: &SchemaMessage) -> Vec<String> {
    let mut errors = Vec::new();
    let values = field_values(m, 1 + (m.id % 97) as u8);
    let expected = build(m.id, &|rust_name| {
        values.get(&camel(rust_name)).cloned().unwrap_or_else(|| panic!("{}: schema lacks {rust_name}", m.name))
    });
    let sequence = 0x0102_0304_0506_0708 ^ u64::from(m.id);

    // Schema-driven encoder → Rust decoder.
    let frame = schema_frame(schema, m, sequence, &values);
    match decode_frame(&frame) {
        Ok((header, got)) => {
            if got != expected {
                errors.push(format!("{}: decoded {got:?}, schema wrote {expected:?}", m.name));
            }
            if header.sequence != sequence || header.template_id != m.id {
                errors.push(format!("{}: header decoded as {header:?}", m.name));
            }
        }
        Err(e) => errors.push(format!("{}: schema-laid frame refused: {e:?}", m.name)),
    }

    // Rust encoder → fields read at the schema's offsets.
    let mut out = [0u8; MAX_FRAME_LEN];
    let len = encode_frame(&expected, sequence, &mut out);
    let header_len: usize = schema.header.iter().map(|f| f.size).sum();
    if len != FRAME_LENGTH_BYTES + header_len + m.block_length {
        errors.push(format!("{}: Rust frame is {len} bytes, schema says {}", m.name, 20 + m.block_length));
    }
    for f in &m.fields {
        let at = FRAME_LENGTH_BYTES + header_len + f.offset;
        let got = out.get(at..at + f.size);
        if got != Some(&values[&f.name][..]) {
            errors.push(format!("{}.{}: Rust wrote {got:?} at schema offset {}", m.name, f.name, f.offset));
        }
    }
    if out[..len] != frame[..] {
        errors.push(format!("{}: Rust frame differs from the schema-laid frame", m.name));
    }
    errors
}

#[test]
fn schema_root_is_gavels_sbe_message_schema() {
    let doc = Document::parse(SCHEMA_XML).expect("well-formed");
    let r = root(&doc);
    assert_eq!(r.tag_name().name(), "messageSchema");
    assert_eq!(r.tag_name().namespace(), Some(SBE_NS));
    assert_eq!(r.attribute("package"), Some("gavel"));
    assert_eq!(num::<u16>(r, "id"), SCHEMA_ID);
    assert_eq!(num::<u16>(r, "id"), 18262);
    assert_eq!(num::<u16>(r, "version"), SCHEMA_VERSION);
    assert_eq!(r.attribute("byteOrder"), Some("littleEndian"));
    assert_eq!(r.attribute("headerType"), Some("messageHeader"));
    assert!(r.attribute("semanticVersion").is_some_and(|v| !v.is_empty()));
    // SBE 1.0: one or more <types> sections, then the sbe:message elements.
    let children: Vec<_> = elements(r).map(|n| (n.tag_name().name(), n.tag_name().namespace())).collect();
    let first_message = children.iter().position(|c| c.0 == "message").expect("messages");
    assert!(first_message > 0);
    assert!(children[..first_message].iter().all(|c| *c == ("types", None)), "{children:?}");
    assert!(children[first_message..].iter().all(|c| *c == ("message", Some(SBE_NS))), "{children:?}");
}

#[test]
fn header_composite_is_the_frame_header() {
    let s = schema();
    let layout: Vec<_> = s.header.iter().map(|f| (f.name.as_str(), f.primitive.as_str(), f.offset)).collect();
    assert_eq!(
        layout,
        [
            ("blockLength", "uint16", 0),
            ("templateId", "uint16", 2),
            ("schemaId", "uint16", 4),
            ("version", "uint16", 6),
            ("sequence", "uint64", 8),
        ]
    );
    let composite_len: usize = s.header.iter().map(|f| f.size).sum();
    assert_eq!(FRAME_LENGTH_BYTES + composite_len, HEADER_LEN);

    // A Rust-encoded frame holds the header values at the composite's offsets.
    let m = Message::from(MassCancel { instrument: 9 });
    let mut out = [0u8; MAX_FRAME_LEN];
    let len = encode_frame(&m, 0xAABB_CCDD_0011_2233, &mut out);
    let at = |name: &str| FRAME_LENGTH_BYTES + s.header_field(name).offset;
    let u16_at = |name: &str| u16::from_le_bytes([out[at(name)], out[at(name) + 1]]);
    assert_eq!(u32::from_le_bytes(out[..4].try_into().unwrap()) as usize, len);
    assert_eq!(usize::from(u16_at("blockLength")), MassCancel::BLOCK_LENGTH);
    assert_eq!(u16_at("templateId"), MassCancel::TEMPLATE_ID);
    assert_eq!(u16_at("schemaId"), SCHEMA_ID);
    assert_eq!(u16_at("version"), SCHEMA_VERSION);
    let seq = at("sequence");
    assert_eq!(u64::from_le_bytes(out[seq..seq + 8].try_into().unwrap()), 0xAABB_CCDD_0011_2233);
}

#[test]
fn every_template_matches_its_schema_message() {
    let s = schema();
    for t in TEMPLATES {
        let m = s.message(t.id);
        assert_eq!(m.name, t.name, "template {}", t.id);
        let rust_block: usize = t.fields.iter().map(|f| f.2).sum();
        assert_eq!(m.block_length, rust_block, "{} blockLength", t.name);
        let decoded = Message::decode(t.id, &[0u8; MAX_FRAME_LEN]).expect("known template");
        assert_eq!(decoded.block_length(), m.block_length, "{} block length of the codec", t.name);
        assert!(HEADER_LEN + m.block_length <= MAX_FRAME_LEN, "{} does not fit a frame", t.name);

        let names: Vec<_> = m.fields.iter().map(|f| f.name.clone()).collect();
        let rust_names: Vec<_> = t.fields.iter().map(|f| camel(f.0)).collect();
        assert_eq!(names, rust_names, "{} field names in wire order", t.name);

        let mut offset = 0;
        let mut ids = BTreeSet::new();
        for (&(rust_name, rust_type, bytes), f) in t.fields.iter().zip(&m.fields) {
            let what = format!("{}.{rust_name}", t.name);
            assert!(f.id > 0 && ids.insert(f.id), "{what}: field id {} not unique and positive", f.id);
            assert_eq!(f.offset, offset, "{what} offset");
            assert_eq!(f.size, bytes, "{what} size ({})", f.type_name);
            if rust_type == "Bytes32" {
                assert_eq!((f.type_name.as_str(), f.primitive.as_str()), ("Bytes32", "uint8"), "{what} type");
            } else {
                assert_eq!(f.primitive, rust_type, "{what} type ({})", f.type_name);
            }
            offset += bytes;
        }
    }
}

#[test]
fn schema_has_exactly_the_rust_templates() {
    let s = schema();
    let schema_ids: Vec<u16> = s.messages.iter().map(|m| m.id).collect();
    let rust_ids: Vec<u16> = TEMPLATES.iter().map(|t| t.id).collect();
    assert_eq!(schema_ids, rust_ids, "same templates, in id order");
    let names: BTreeSet<_> = s.messages.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names.len(), s.messages.len(), "message names are unique");
}

/// Each enum's `(name, value)` pairs (a set's choices as bit values).
fn enum_values(name: &str) -> Vec<(String, u64)> {
    let doc = Document::parse(SCHEMA_XML).unwrap();
    let types = types(&doc);
    let node = types.get(name).unwrap_or_else(|| panic!("no type {name}"));
    elements(*node)
        .map(|v| {
            let n: u64 = v.text().unwrap_or("").trim().parse().expect("numeric value");
            let value = if node.tag_name().name() == "set" { 1 << n } else { n };
            (attr(v, "name").to_string(), value)
        })
        .collect()
}

fn pairs(list: &[(&str, u64)]) -> Vec<(String, u64)> {
    list.iter().map(|(n, v)| (n.to_string(), *v)).collect()
}

#[test]
fn enums_and_sets_carry_the_rust_constants() {
    let u = u64::from;
    assert_eq!(enum_values("Side"), pairs(&[("Buy", u(side::BUY)), ("Sell", u(side::SELL))]));
    assert_eq!(
        enum_values("OrderType"),
        pairs(&[
            ("Limit", u(order_type::LIMIT)),
            ("Market", u(order_type::MARKET)),
            ("ImmediateOrCancel", u(order_type::IOC)),
            ("FillOrKill", u(order_type::FOK)),
        ])
    );
    assert_eq!(
        enum_values("OrderFlags"),
        pairs(&[("PostOnly", u(order_flag::POST_ONLY)), ("ReduceOnly", u(order_flag::REDUCE_ONLY))])
    );
    assert_eq!(
        enum_values("Role"),
        pairs(&[
            ("Trader", u(role::TRADER)),
            ("Liquidator", u(role::LIQUIDATOR)),
            ("MarketData", u(role::MARKET_DATA)),
            ("Admin", u(role::ADMIN)),
        ])
    );
    assert_eq!(
        enum_values("Channels"),
        pairs(&[("MarketData", u64::from(channel::MARKET_DATA)), ("Auctions", u64::from(channel::AUCTIONS))])
    );
    let reasons = [
        ("BadLength", reason::BAD_LENGTH),
        ("UnknownTemplate", reason::UNKNOWN_TEMPLATE),
        ("WrongVersion", reason::WRONG_VERSION),
        ("NotLoggedIn", reason::NOT_LOGGED_IN),
        ("ShortBlock", reason::SHORT_BLOCK),
        ("BadField", reason::BAD_FIELD),
        ("NotPermitted", reason::NOT_PERMITTED),
        ("RateLimited", reason::RATE_LIMITED),
        ("TooManyOpenOrders", reason::TOO_MANY_OPEN_ORDERS),
        ("BadCredentials", reason::BAD_CREDENTIALS),
        ("AlreadyLoggedIn", reason::ALREADY_LOGGED_IN),
        ("EngineBusy", reason::ENGINE_BUSY),
        ("WrongDirection", reason::WRONG_DIRECTION),
        ("ReplayUnavailable", reason::REPLAY_UNAVAILABLE),
        ("ShuttingDown", reason::SHUTTING_DOWN),
        ("TooManyErrors", reason::TOO_MANY_ERRORS),
        ("JournalFailed", reason::JOURNAL_FAILED),
        ("IdleTimeout", reason::IDLE_TIMEOUT),
    ];
    let reasons: Vec<_> = reasons.iter().map(|&(n, v)| (n, u64::from(v))).collect();
    assert_eq!(enum_values("RejectReason"), pairs(&reasons));
    assert_eq!(enum_values("ExecType").iter().map(|v| v.1).collect::<Vec<_>>(), [1, 2, 3, 4]);
    assert_eq!(enum_values("AuctionCode").iter().map(|v| v.1).collect::<Vec<_>>(), [1, 2, 3, 4]);
}

#[test]
fn every_template_decodes_both_ways_against_the_schema() {
    let s = schema();
    assert_eq!(s.messages.len(), TEMPLATES.len());
    let errors: Vec<String> = s.messages.iter().flat_map(|m| codec_mismatches(&s, m)).collect();
    assert!(errors.is_empty(), "schema and codec disagree:\n{}", errors.join("\n"));
}

#[test]
fn the_two_way_check_catches_a_wrong_offset_or_size() {
    let s = schema();
    let order = s.message(NewOrder::TEMPLATE_ID).clone();
    assert!(codec_mismatches(&s, &order).is_empty());

    // `price` and `qty` swapped in the schema (same size, so only offsets differ).
    let mut swapped = order.clone();
    let (p, q) = (swapped.fields[5].offset, swapped.fields[6].offset);
    swapped.fields[5].offset = q;
    swapped.fields[6].offset = p;
    assert!(!codec_mismatches(&s, &swapped).is_empty());

    // `side` as a uint16 and everything after it one byte further.
    let mut wider = order.clone();
    wider.fields[2].size = 2;
    for f in &mut wider.fields[3..] {
        f.offset += 1;
    }
    wider.block_length += 1;
    assert!(!codec_mismatches(&s, &wider).is_empty());
}
