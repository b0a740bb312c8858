//! Property tests of the framing: round trips of every template, a
//! [`FrameReader`] fed arbitrary chunkings of many frames, garbage input (never
//! a panic, only documented outcomes), impossible lengths (fatal, without the
//! reader's fixed buffer growing), and refused frames (right reason, the stream
//! goes on with the next frame).

use gavel_gateway::protocol::{
    decode_frame, encode_frame, reason, FrameError, FrameHeader, FrameReader, Message, ReadOutcome, HEADER_LEN,
    MAX_FRAME_LEN, SCHEMA_ID, SCHEMA_VERSION, TEMPLATES,
};
use proptest::prelude::*;

const MAX_BODY: usize = MAX_FRAME_LEN - HEADER_LEN;

/// A message of any template with arbitrary field values: the body bytes are
/// arbitrary and every bit pattern is a valid value of the integer fields.
fn any_message() -> impl Strategy<Value = Message> {
    (0..TEMPLATES.len(), prop::collection::vec(any::<u8>(), MAX_BODY))
        .prop_map(|(i, body)| Message::decode(TEMPLATES[i].id, &body).expect("known template, long body"))
}

fn frame(message: &Message, sequence: u64) -> Vec<u8> {
    let mut out = [0u8; MAX_FRAME_LEN];
    let len = encode_frame(message, sequence, &mut out);
    out[..len].to_vec()
}

/// A frame with every header field chosen by the caller and `body` after it.
fn raw_frame(frame_length: u32, block_length: u16, template: u16, schema: u16, version: u16, seq: u64, body: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&frame_length.to_le_bytes());
    f.extend_from_slice(&block_length.to_le_bytes());
    f.extend_from_slice(&template.to_le_bytes());
    f.extend_from_slice(&schema.to_le_bytes());
    f.extend_from_slice(&version.to_le_bytes());
    f.extend_from_slice(&seq.to_le_bytes());
    f.extend_from_slice(body);
    f
}

fn is_template(id: u16) -> bool {
    TEMPLATES.iter().any(|t| t.id == id)
}

/// What feeding a reader produced.
struct Fed {
    outcomes: Vec<ReadOutcome>,
    /// Bytes the reader took from the input.
    accepted: usize,
}

/// Feeds `bytes` to `reader` in chunks of `chunks` (cycled), taking every
/// frame out after each chunk; stops at the first `Fatal`.
fn feed(reader: &mut FrameReader, bytes: &[u8], chunks: &[usize]) -> Fed {
    let mut fed = Fed { outcomes: Vec::new(), accepted: 0 };
    let mut chunk = chunks.iter().cycle();
    while fed.accepted < bytes.len() {
        let spare = reader.spare();
        assert!(!spare.is_empty(), "reader stalled: full buffer and no frame in it");
        let n = (*chunk.next().unwrap()).min(spare.len()).min(bytes.len() - fed.accepted);
        spare[..n].copy_from_slice(&bytes[fed.accepted..fed.accepted + n]);
        reader.filled(n);
        fed.accepted += n;
        loop {
            match reader.next_frame() {
                ReadOutcome::NeedMore => break,
                fatal @ ReadOutcome::Fatal(_) => {
                    fed.outcomes.push(fatal);
                    return fed;
                }
                other => fed.outcomes.push(other),
            }
        }
    }
    fed
}

/// The frame length of a decoded or refused frame.
fn consumed(outcome: &ReadOutcome) -> usize {
    match outcome {
        ReadOutcome::Message(h, _) | ReadOutcome::Refused(FrameError::Refused { header: h, .. }) => h.frame_length as usize,
        other => panic!("{other:?} consumes no frame"),
    }
}

fn chunk_sizes() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..=300, 1..16)
}

/// Input that is mostly frame-shaped: each piece has a length near the valid
/// range and header fields that are often right, so every outcome is reached.
fn frame_like_garbage() -> impl Strategy<Value = Vec<u8>> {
    let template = prop_oneof![
        prop::sample::select(TEMPLATES.iter().map(|t| t.id).collect::<Vec<_>>()),
        any::<u16>()
    ];
    let schema = prop_oneof![4 => Just(SCHEMA_ID), 1 => any::<u16>()];
    let version = prop_oneof![4 => Just(SCHEMA_VERSION), 1 => any::<u16>()];
    let piece = (0u32..=270, prop::option::of(any::<u16>()), template, schema, version, any::<u64>(), prop::collection::vec(any::<u8>(), 0..=260))
        .prop_map(|(len, block, template, schema, version, seq, body)| {
            let block = block.unwrap_or((len as u16).wrapping_sub(HEADER_LEN as u16));
            let mut f = raw_frame(len, block, template, schema, version, seq, &body);
            f.truncate((len as usize).max(4));
            f
        });
    prop::collection::vec(piece, 0..12).prop_map(|pieces| pieces.concat())
}

/// Every outcome of `fed` is a documented one, consistent with the input bytes:
/// frames are cut exactly at their `frame_length`, messages re-encode to their
/// bytes, refusals carry the reason their header deserves, and a fatal length
/// is the length field where the reader stopped.
fn check_outcomes(input: &[u8], fed: &Fed, reader: &FrameReader) {
    let mut at = 0;
    for outcome in &fed.outcomes {
        match outcome {
            ReadOutcome::Message(h, m) => {
                let len = h.frame_length as usize;
                assert!((HEADER_LEN..=MAX_FRAME_LEN).contains(&len));
                assert_eq!((h.schema_id, h.version), (SCHEMA_ID, SCHEMA_VERSION));
                assert_eq!(usize::from(h.block_length) + HEADER_LEN, len);
                assert_eq!(m.template_id(), h.template_id);
                assert!(usize::from(h.block_length) >= m.block_length());
                let bytes = &input[at..at + len];
                let again = frame(m, h.sequence);
                assert_eq!(again[6..HEADER_LEN], bytes[6..HEADER_LEN], "template, schema, version, sequence");
                assert_eq!(again[HEADER_LEN..], bytes[HEADER_LEN..HEADER_LEN + m.block_length()], "the body's fields");
            }
            ReadOutcome::Refused(FrameError::Refused { header: h, reason: r }) => {
                let len = h.frame_length as usize;
                assert!((HEADER_LEN..=MAX_FRAME_LEN).contains(&len));
                assert_eq!(*h, gavel_gateway::protocol::decode_header(&input[at..at + HEADER_LEN]));
                let expected = if (h.schema_id, h.version) != (SCHEMA_ID, SCHEMA_VERSION) {
                    reason::WRONG_VERSION
                } else if usize::from(h.block_length) + HEADER_LEN != len {
                    reason::BAD_LENGTH
                } else if !is_template(h.template_id) {
                    reason::UNKNOWN_TEMPLATE
                } else {
                    reason::SHORT_BLOCK
                };
                assert_eq!(*r, expected, "{h:?}");
            }
            ReadOutcome::Fatal(FrameError::BadLength(len)) => {
                assert!(!(HEADER_LEN..=MAX_FRAME_LEN).contains(&(*len as usize)));
                assert_eq!(input[at..at + 4], len.to_le_bytes(), "the length field where the reader stopped");
                assert!(std::ptr::eq(outcome, fed.outcomes.last().unwrap()), "nothing after a fatal outcome");
                return;
            }
            other => panic!("undocumented outcome {other:?}"),
        }
        at += consumed(outcome);
    }
    assert_eq!(at + reader.buffered(), fed.accepted, "every accepted byte is in a frame or still buffered");
    assert!(reader.buffered() < MAX_FRAME_LEN, "no complete frame left behind");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_message_round_trips(m in any_message(), seq in any::<u64>()) {
        let f = frame(&m, seq);
        prop_assert_eq!(f.len(), HEADER_LEN + m.block_length());
        let (h, back) = decode_frame(&f).expect("a frame we encoded decodes");
        prop_assert_eq!(back, m);
        prop_assert_eq!(
            h,
            FrameHeader {
                frame_length: f.len() as u32,
                block_length: m.block_length() as u16,
                template_id: m.template_id(),
                schema_id: SCHEMA_ID,
                version: SCHEMA_VERSION,
                sequence: seq,
            }
        );
    }

    /// The body codec is a bijection on a template's block: any bytes decode
    /// and encode back to themselves.
    #[test]
    fn any_body_bytes_encode_back_to_themselves(i in 0..TEMPLATES.len(), body in prop::collection::vec(any::<u8>(), MAX_BODY)) {
        let m = Message::decode(TEMPLATES[i].id, &body).unwrap();
        let f = frame(&m, 1);
        prop_assert_eq!(&f[HEADER_LEN..], &body[..m.block_length()]);
    }

    #[test]
    fn a_body_shorter_than_the_block_is_refused(i in 0..TEMPLATES.len(), cut in 1usize..=60) {
        let t = &TEMPLATES[i];
        let block: usize = t.fields.iter().map(|f| f.2).sum();
        prop_assume!(block > 0);
        let short = vec![7u8; block - cut.min(block)];
        prop_assert_eq!(Message::decode(t.id, &short), Err(reason::SHORT_BLOCK));
    }

    #[test]
    fn a_reader_fed_any_chunking_yields_every_message_in_order(
        messages in prop::collection::vec((any_message(), any::<u64>()), 0..40),
        chunks in chunk_sizes(),
        capacity in MAX_FRAME_LEN..=1024,
    ) {
        let stream: Vec<u8> = messages.iter().flat_map(|(m, s)| frame(m, *s)).collect();
        let mut reader = FrameReader::new(capacity);
        let fed = feed(&mut reader, &stream, &chunks);
        prop_assert_eq!(fed.accepted, stream.len());
        let got: Vec<(Message, u64)> = fed
            .outcomes
            .into_iter()
            .map(|o| match o {
                ReadOutcome::Message(h, m) => (m, h.sequence),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        prop_assert_eq!(got, messages);
        prop_assert_eq!(reader.buffered(), 0);
    }

    #[test]
    fn arbitrary_bytes_give_only_documented_outcomes(
        input in prop::collection::vec(any::<u8>(), 0..2000),
        chunks in chunk_sizes(),
        capacity in MAX_FRAME_LEN..=600,
    ) {
        let mut reader = FrameReader::new(capacity);
        let fed = feed(&mut reader, &input, &chunks);
        check_outcomes(&input, &fed, &reader);
    }

    #[test]
    fn frame_like_garbage_gives_only_documented_outcomes(
        input in frame_like_garbage(),
        chunks in chunk_sizes(),
        capacity in MAX_FRAME_LEN..=600,
    ) {
        let mut reader = FrameReader::new(capacity);
        let fed = feed(&mut reader, &input, &chunks);
        check_outcomes(&input, &fed, &reader);
    }

    /// A length outside 20..=256 is fatal as soon as its 4 bytes are in, after
    /// the good frames before it; the reader does not wait for (or make room
    /// for) the announced bytes: it takes exactly its capacity and no more.
    #[test]
    fn an_impossible_length_is_fatal_and_the_buffer_does_not_grow(
        before in prop::collection::vec((any_message(), any::<u64>()), 0..4),
        len in prop_oneof![0u32..HEADER_LEN as u32, MAX_FRAME_LEN as u32 + 1..=u32::MAX],
        capacity in MAX_FRAME_LEN..=1024,
        fill in any::<u8>(),
    ) {
        let mut stream: Vec<u8> = before.iter().flat_map(|(m, s)| frame(m, *s)).collect();
        let bad_at = stream.len();
        stream.extend_from_slice(&len.to_le_bytes());
        let mut reader = FrameReader::new(capacity);
        let fed = feed(&mut reader, &stream, &[3]);
        prop_assert_eq!(fed.outcomes.len(), before.len() + 1);
        for (o, (m, s)) in fed.outcomes.iter().zip(&before) {
            prop_assert_eq!(o, &ReadOutcome::Message(decode_frame(&frame(m, *s)).unwrap().0, *m));
        }
        prop_assert_eq!(fed.outcomes.last(), Some(&ReadOutcome::Fatal(FrameError::BadLength(len))));
        prop_assert_eq!(reader.buffered(), stream.len() - bad_at);

        // Keep pushing bytes: the reader takes up to its capacity, then offers
        // no more room, and the outcome stays fatal.
        let mut taken = reader.buffered();
        loop {
            let spare = reader.spare();
            if spare.is_empty() {
                break;
            }
            let n = spare.len().min(97);
            spare[..n].fill(fill);
            reader.filled(n);
            taken += n;
            prop_assert!(taken <= capacity, "took {} bytes into a {}-byte reader", taken, capacity);
        }
        prop_assert_eq!(taken, capacity);
        prop_assert_eq!(reader.buffered(), capacity);
        prop_assert_eq!(reader.next_frame(), ReadOutcome::Fatal(FrameError::BadLength(len)));
    }

    /// Unknown template, wrong schema id or version, and block lengths that do
    /// not fit: the frame is refused with its header and the right reason, and
    /// the next frame decodes.
    #[test]
    fn a_refused_frame_is_skipped_and_the_next_one_decodes(
        bad in any_message(),
        next in any_message(),
        seq in any::<u64>(),
        kind in 0..5u8,
        other in any::<u16>(),
        chunks in chunk_sizes(),
    ) {
        let block = bad.block_length();
        let mut f = frame(&bad, seq);
        let set_u16 = |f: &mut Vec<u8>, at: usize, v: u16| f[at..at + 2].copy_from_slice(&v.to_le_bytes());
        let expected = match kind {
            0 => {
                prop_assume!(!is_template(other));
                set_u16(&mut f, 6, other);
                reason::UNKNOWN_TEMPLATE
            }
            1 => {
                prop_assume!(other != SCHEMA_ID);
                set_u16(&mut f, 8, other);
                reason::WRONG_VERSION
            }
            2 => {
                prop_assume!(other != SCHEMA_VERSION);
                set_u16(&mut f, 10, other);
                reason::WRONG_VERSION
            }
            3 => {
                // block_length disagrees with frame_length.
                prop_assume!(usize::from(other) != block);
                set_u16(&mut f, 4, other);
                reason::BAD_LENGTH
            }
            _ => {
                // A consistent frame whose body is shorter than the template's block.
                prop_assume!(block > 0);
                let short = usize::from(other) % block;
                f.truncate(HEADER_LEN + short);
                f[0..4].copy_from_slice(&((HEADER_LEN + short) as u32).to_le_bytes());
                set_u16(&mut f, 4, short as u16);
                reason::SHORT_BLOCK
            }
        };
        let header = gavel_gateway::protocol::decode_header(&f);
        prop_assert_eq!(header.sequence, seq);
        prop_assert_eq!(decode_frame(&f), Err(FrameError::Refused { header, reason: expected }));

        let good = frame(&next, seq.wrapping_add(1));
        let stream = [f.clone(), good.clone()].concat();
        let mut reader = FrameReader::new(MAX_FRAME_LEN);
        let fed = feed(&mut reader, &stream, &chunks);
        prop_assert_eq!(
            fed.outcomes,
            vec![
                ReadOutcome::Refused(FrameError::Refused { header, reason: expected }),
                ReadOutcome::Message(decode_frame(&good).unwrap().0, next),
            ]
        );
        prop_assert_eq!(reader.buffered(), 0);
    }

    /// `decode_frame` of a slice shorter than the header is an error, not a
    /// panic (it used to index past the end of the slice).
    #[test]
    fn a_slice_shorter_than_the_header_is_bad_length(bytes in prop::collection::vec(any::<u8>(), 0..HEADER_LEN)) {
        prop_assert_eq!(decode_frame(&bytes), Err(FrameError::BadLength(bytes.len() as u32)));
    }

    /// A body longer than the template's block (a newer minor version) is
    /// read up to the block.
    #[test]
    fn a_longer_block_is_read_up_to_the_template_block(m in any_message(), extra in 1usize..=16, pad in any::<u8>()) {
        let block = m.block_length() + extra;
        prop_assume!(HEADER_LEN + block <= MAX_FRAME_LEN);
        let mut f = frame(&m, 5);
        f.resize(HEADER_LEN + block, pad);
        f[0..4].copy_from_slice(&((HEADER_LEN + block) as u32).to_le_bytes());
        f[4..6].copy_from_slice(&(block as u16).to_le_bytes());
        let (h, back) = decode_frame(&f).unwrap();
        prop_assert_eq!(back, m);
        prop_assert_eq!(usize::from(h.block_length), block);
    }
}
