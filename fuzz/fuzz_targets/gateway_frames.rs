//! Any byte stream through a session's FrameReader, in chunks whose sizes come
//! from the input: never a panic, never a frame over MAX_FRAME_LEN, every
//! decoded message re-encodes to a frame that decodes to it, and the reader
//! never stalls with a full buffer.
#![no_main]
use gavel_gateway::protocol::{
    decode_frame, encode_frame, FrameError, FrameReader, ReadOutcome, HEADER_LEN, MAX_FRAME_LEN,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // First byte: chunk size seed; second: reader capacity above the minimum.
    let Some((&chunk_seed, rest)) = data.split_first() else { return };
    let Some((&extra, stream)) = rest.split_first() else { return };
    let mut reader = FrameReader::new(MAX_FRAME_LEN + usize::from(extra));
    let mut at = 0;
    let mut chunk = usize::from(chunk_seed) + 1;
    while at < stream.len() {
        let spare = reader.spare();
        assert!(!spare.is_empty(), "reader stalled with a full buffer");
        let n = chunk.min(spare.len()).min(stream.len() - at);
        spare[..n].copy_from_slice(&stream[at..at + n]);
        reader.filled(n);
        at += n;
        chunk = chunk % 253 + 7;
        loop {
            match reader.next_frame() {
                ReadOutcome::NeedMore => break,
                ReadOutcome::Fatal(FrameError::BadLength(len)) => {
                    assert!((len as usize) < HEADER_LEN || len as usize > MAX_FRAME_LEN);
                    return;
                }
                ReadOutcome::Fatal(other) => panic!("fatal outcome {other:?}"),
                ReadOutcome::Message(header, message) => {
                    assert!(header.frame_length as usize <= MAX_FRAME_LEN);
                    assert!(HEADER_LEN + message.block_length() <= header.frame_length as usize);
                    let mut out = [0u8; MAX_FRAME_LEN];
                    let len = encode_frame(&message, header.sequence, &mut out);
                    assert!(len <= MAX_FRAME_LEN);
                    assert_eq!(decode_frame(&out[..len]).map(|(_, m)| m), Ok(message));
                }
                ReadOutcome::Refused(FrameError::Refused { header, .. }) => {
                    assert!((HEADER_LEN..=MAX_FRAME_LEN).contains(&(header.frame_length as usize)));
                }
                ReadOutcome::Refused(other) => panic!("refused outcome {other:?}"),
            }
        }
    }
    // Any slice straight into decode_frame: an error or a message, no panic.
    let _ = decode_frame(stream);
});
