//! A journal segment written through a shared file mapping (`gavel serve --durability
//! write`): an append is a copy into the page cache, with no system call, and survives a
//! kill -9 of the process as a `write(2)` would (not a crash of the host).
//!
//! The segment's blocks are reserved when it is created (`fallocate`), so a store into the
//! mapping can never meet a full disk (which would raise SIGBUS), and the file is that long
//! until it is closed: the bytes after the last record are zeros. [`MappedSegment::close`]
//! (and dropping it) cuts the file to the bytes in use; after a crash the scan reports the
//! zeros as an unused tail ([`crate::input_journal::ScanReport::unused`]), which recovery cuts.
//!
//! The first store into each page of the mapping faults into the kernel (about 3–4 µs on the
//! reference VM); [`MappedSegment::prefault`] takes those faults ahead of the writes, when the
//! caller has nothing else to do. Closing a segment syncs it (so that after a crash of the host
//! only the last segment can end short); [`MappedSegment::start_writeback`] hands the finished
//! megabytes to the disk as the segment fills, so that sync does not stall on 64 MiB at once.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

use memmap2::{MmapMut, MmapOptions};

/// The largest segment a mapping reserves; a longer configured limit rolls here instead.
pub const MAX_MAPPED_SEGMENT_BYTES: u64 = 1 << 30;
/// How far ahead of the last record [`MappedSegment::prefault`] touches pages.
pub const PREFAULT_BYTES: usize = 64 << 10;
/// How many appended bytes [`MappedSegment::start_writeback`] waits for before it starts their
/// write-back.
pub const WRITEBACK_BYTES: usize = 1 << 20;
const PAGE: usize = 4096;

/// An open segment file mapped for appending.
pub struct MappedSegment {
    file: File,
    map: Option<MmapMut>,
    /// Bytes in use from the start of the file (header and records).
    used: usize,
    /// The pages below this offset (a page boundary) have been stored into once.
    touched: usize,
    /// Write-back was started for the bytes below this offset (a page boundary).
    written_back: usize,
}

impl MappedSegment {
    /// Maps `file`, which holds `used` bytes (its header), after reserving `capacity` bytes for
    /// it; the pages of the first [`PREFAULT_BYTES`] are faulted in.
    pub fn new(file: File, used: usize, capacity: u64) -> io::Result<Self> {
        let capacity = capacity.min(MAX_MAPPED_SEGMENT_BYTES);
        if (capacity as usize) < used {
            return Err(io::Error::other(format!("journal: a mapped segment of {capacity} bytes cannot hold its {used}-byte header")));
        }
        let len = libc::off_t::try_from(capacity).map_err(|_| io::Error::other("journal: segment length out of range"))?;
        // SAFETY: plain system call on a descriptor this function owns; no memory is passed.
        let rc = unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, len) };
        if rc != 0 {
            let e = io::Error::last_os_error();
            return Err(io::Error::new(e.kind(), format!("journal: reserving a {capacity}-byte segment (fallocate): {e}")));
        }
        file.sync_all()?;
        // SAFETY: the file was created by this process for this segment (`create_new`) and only
        // this writer changes it; it is never shortened while mapped below `capacity` bytes
        // (`close` drops the mapping first), so no access through the mapping can fault.
        let map = unsafe { MmapOptions::new().len(capacity as usize).map_mut(&file)? };
        let mut segment = MappedSegment { file, map: Some(map), used, touched: used / PAGE * PAGE, written_back: 0 };
        segment.prefault();
        Ok(segment)
    }

    /// Appends `bytes` after the last record; an error if they do not fit.
    pub fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        let end = self.used + bytes.len();
        let map = self.map.as_mut().ok_or_else(|| io::Error::other("journal: the segment is closed"))?;
        let Some(into) = map.get_mut(self.used..end) else {
            return Err(io::Error::other(format!("journal: {} bytes do not fit the mapped segment ({} of {} used)", bytes.len(), self.used, map.len())));
        };
        into.copy_from_slice(bytes);
        self.used = end;
        Ok(())
    }

    /// Stores a zero into each page not yet touched up to [`PREFAULT_BYTES`] past the last
    /// record (they hold zeros already), so the appends that reach them do not fault. Returns
    /// the pages touched.
    pub fn prefault(&mut self) -> usize {
        let Some(map) = self.map.as_mut() else { return 0 };
        let end = (self.used + PREFAULT_BYTES).min(map.len());
        let mut pages = 0;
        // The pages the appends reached are faulted in already.
        self.touched = self.touched.max(self.used / PAGE * PAGE);
        while self.touched < end {
            // The page's first byte not yet written: a zero stays a zero.
            if let Some(byte) = map.get_mut(self.touched.max(self.used)) {
                *byte = 0;
            }
            self.touched += PAGE;
            pages += 1;
        }
        pages
    }

    /// Starts the write-back to disk of the records appended since the last call, once they fill
    /// [`WRITEBACK_BYTES`] (whole pages; `sync_file_range` without waiting), so that the sync
    /// when the segment closes finds little left to write. Returns the bytes handed over.
    pub fn start_writeback(&mut self) -> io::Result<u64> {
        let end = self.used / PAGE * PAGE;
        if end < self.written_back + WRITEBACK_BYTES {
            return Ok(0);
        }
        let (start, len) = (self.written_back, end - self.written_back);
        // SAFETY: plain system call on the segment's descriptor; no memory is passed.
        let rc = unsafe { libc::sync_file_range(self.file.as_raw_fd(), start as libc::off64_t, len as libc::off64_t, libc::SYNC_FILE_RANGE_WRITE) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        self.written_back = end;
        Ok(len as u64)
    }

    /// `fdatasync`s what was appended.
    pub fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    /// Unmaps the segment, cuts the file to the bytes in use and syncs it.
    pub fn close(&mut self) -> io::Result<()> {
        if self.unmap_and_cut()? {
            self.file.sync_data()?;
        }
        Ok(())
    }

    fn unmap_and_cut(&mut self) -> io::Result<bool> {
        if self.map.take().is_none() {
            return Ok(false);
        }
        self.file.set_len(self.used as u64)?;
        Ok(true)
    }
}

impl Drop for MappedSegment {
    fn drop(&mut self) {
        // Best effort, unsynced: the records are in the page cache already; if the cut fails,
        // the next recovery cuts the zeros instead.
        let _ = self.unmap_and_cut();
    }
}
