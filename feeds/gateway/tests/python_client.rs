//! The standard-library Python client in `docs/examples/gavel_client.py`
//! against the Rust codec: frames it encodes decode in Rust to the expected
//! messages (its logon signature equals `auth::sign`), frames Rust encodes
//! decode in Python to the expected field values (an unknown template skipped
//! by its length), and its layout table agrees with [`TEMPLATES`].
//!
//! Needs `python3` on the PATH; without it these tests fail.

use std::path::PathBuf;
use std::process::Command;

use gavel_gateway::auth;
use gavel_gateway::protocol::{
    decode_frame, encode_frame, AuctionUpdate, BookLevel, ExecutionReport, LiquidatorTake, Logon, Message, NewOrder,
    Subscribe, HEADER_LEN, MAX_FRAME_LEN, SCHEMA_ID, SCHEMA_VERSION, TEMPLATES,
};

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/examples/gavel_client.py")
}

/// The script's stdout for `args`; panics if python3 cannot run or the script fails.
fn python(args: &[&str]) -> String {
    let out = Command::new("python3")
        .arg(script())
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("python3 is required for this test and could not be run: {e}"));
    assert!(
        out.status.success(),
        "gavel_client.py {args:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

fn from_hex(text: &str) -> Vec<u8> {
    assert!(text.len().is_multiple_of(2), "odd hex length: {text}");
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex")).collect()
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn frame(message: impl Into<Message>, sequence: u64) -> Vec<u8> {
    let mut out = [0u8; MAX_FRAME_LEN];
    let len = encode_frame(&message.into(), sequence, &mut out);
    out[..len].to_vec()
}

#[test]
fn python_encoded_frames_decode_in_rust() {
    let secret: [u8; 32] = std::array::from_fn(|i| i as u8);
    let nonce: [u8; 32] = std::array::from_fn(|i| 100 + i as u8);
    let key_id = 0x0102_0304_0506_0708;
    let expected: Vec<(u64, Message)> = vec![
        (
            1,
            NewOrder { client_order_id: 42, instrument: 7, side: 2, order_type: 1, flags: 2, price: -123_456_789, qty: 5000 }
                .into(),
        ),
        (2, Logon { key_id, signature: auth::sign(&secret, &nonce, key_id) }.into()),
        (3, Subscribe { channels: 3 }.into()),
        (4, LiquidatorTake { take_id: 9, auction_id: u64::MAX, max_price: -5, qty: 12 }.into()),
    ];
    let out = python(&["--encode-test"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), expected.len(), "{out}");
    for (line, (seq, message)) in lines.iter().zip(&expected) {
        let bytes = from_hex(line);
        let (header, got) = decode_frame(&bytes).unwrap_or_else(|e| panic!("{line}: {e:?}"));
        assert_eq!(&got, message);
        assert_eq!(header.sequence, *seq);
        assert_eq!((header.schema_id, header.version), (SCHEMA_ID, SCHEMA_VERSION));
        assert_eq!(header.frame_length as usize, bytes.len());
        // Byte for byte what Rust would send.
        assert_eq!(bytes, frame(*message, *seq));
    }
}

#[test]
fn rust_encoded_frames_decode_in_python() {
    let report = ExecutionReport {
        client_order_id: u64::MAX - 1,
        instrument: 3,
        exec_type: 2,
        side: 1,
        reason: 513,
        price: -42,
        qty: 1 << 40,
        time_ns: 1_700_000_000_123_456_789,
    };
    let level = BookLevel { md_sequence: 77, instrument: 4_000_000_000, side: 2, price: 65_432, qty: 0 };
    let auction =
        AuctionUpdate { auction_id: 5, instrument: 1, code: 3, side: 1, price: i64::MIN, remaining: i64::MAX, time_ns: -1 };
    // A template Python does not know, with a valid header: skipped by length.
    let mut unknown = frame(level, 0);
    unknown[6..8].copy_from_slice(&999u16.to_le_bytes());
    let mut stream = frame(report, 7);
    stream.extend_from_slice(&unknown);
    stream.extend_from_slice(&frame(level, 8));
    stream.extend_from_slice(&frame(auction, 9));
    stream.extend_from_slice(&frame(report, 10)[..HEADER_LEN - 3]);

    let out = python(&["--decode-test", &to_hex(&stream)]);
    let expected = [
        "7 ExecutionReport client_order_id=18446744073709551614 instrument=3 exec_type=2 side=1 reason=513 price=-42 \
         qty=1099511627776 time_ns=1700000000123456789"
            .to_string(),
        format!("skip 999 {}", unknown.len()),
        "8 BookLevel md_sequence=77 instrument=4000000000 side=2 price=65432 qty=0".to_string(),
        "9 AuctionUpdate auction_id=5 instrument=1 code=3 side=1 price=-9223372036854775808 \
         remaining=9223372036854775807 time_ns=-1"
            .to_string(),
        format!("partial {}", HEADER_LEN - 3),
    ];
    assert_eq!(out.lines().collect::<Vec<_>>(), expected);
}

#[test]
fn python_layouts_agree_with_the_templates() {
    let out = python(&["--templates-test"]);
    let mut seen = 0;
    for line in out.lines() {
        let mut words = line.split(' ');
        let id: u16 = words.next().unwrap().parse().unwrap();
        let name = words.next().unwrap();
        let block: usize = words.next().unwrap().parse().unwrap();
        let fields: Vec<&str> = words.collect();
        let t = TEMPLATES.iter().find(|t| t.id == id).unwrap_or_else(|| panic!("Python knows template {id}, Rust not"));
        assert_eq!(name, t.name, "{line}");
        assert_eq!(block, t.fields.iter().map(|f| f.2).sum::<usize>(), "{line}");
        assert_eq!(fields, t.fields.iter().map(|f| f.0).collect::<Vec<_>>(), "{line}");
        seen += 1;
    }
    // The messages a researcher needs (the brief's list plus Logout).
    assert_eq!(seen, 19, "{out}");
}
