//! Any file content through the recording reader: never a panic, always terminates.
#![no_main]
use gavel_feeds::recording::{RecordError, RecordingReader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = RecordingReader::from_reader("fuzz", std::io::Cursor::new(data.to_vec())) else {
        return;
    };
    for _ in 0..=data.len() + 1 {
        match reader.next_record() {
            Ok(Some(_)) | Err(RecordError::Bad(_)) => {}
            Ok(None) | Err(RecordError::Fatal(_)) => return,
        }
    }
    panic!("reader did not terminate");
});
