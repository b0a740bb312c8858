//! Creating, opening and validating the shared file.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::atomic::Ordering;

use memmap2::{MmapMut, MmapOptions};

use super::error::{HeaderField, RingError};
use super::layout::{self, SharedHeader, FORMAT_VERSION, MAGIC, MAX_RECORD_ALIGN, SLOTS_OFFSET};
use super::liveness::own_pid;
use super::owner::{self, FileId};

/// Largest accepted capacity (2^40 slots).
pub(crate) const MAX_CAPACITY: u64 = 1 << 40;

/// A mapped ring file: the mapping plus pointers to its header and slots.
pub(crate) struct RingMap {
    /// Keeps the mapping alive; `header` and `slots` point into it.
    _mmap: MmapMut,
    /// The open file: fstat checks use it, and a producer's `flock` lives on it
    /// (released when it closes, also when the process dies).
    file: File,
    /// The file's length when mapped.
    len: u64,
    /// Which file was mapped, to tell whether the path still names it.
    id: FileId,
    header: NonNull<SharedHeader>,
    slots: NonNull<u8>,
    pub(crate) capacity: u64,
    pub(crate) path: PathBuf,
}

impl RingMap {
    /// The shared header.
    #[inline(always)]
    pub(crate) fn header(&self) -> &SharedHeader {
        // SAFETY: `header` points at offset 0 of a live, page-aligned mapping at
        // least HEADER_SIZE long (checked when mapped); every field of
        // SharedHeader is an atomic or padding, so shared access from several
        // processes is data-race free and any bit pattern is a valid value.
        unsafe { self.header.as_ref() }
    }

    /// Slot 0, typed.
    #[inline(always)]
    pub(crate) fn slots<T>(&self) -> *mut T {
        self.slots.as_ptr().cast::<T>()
    }

    /// Fails if the file was truncated below the mapped length: touching the
    /// cut pages would raise SIGBUS. Call before reading the header on a slow path.
    pub(crate) fn check_length(&self) -> Result<(), RingError> {
        let changed = |what: String| RingError::FileChanged { path: self.path.clone(), what };
        let len = self.file.metadata().map_err(|e| changed(format!("fstat failed: {e}")))?.len();
        if len < self.len {
            return Err(changed(format!(
                "truncated to {len} bytes under this process (mapped {} bytes); ring files must never be truncated",
                self.len
            )));
        }
        Ok(())
    }

    /// Fails if the path no longer names the mapped file (removed or replaced).
    pub(crate) fn check_identity(&self) -> Result<(), RingError> {
        let changed = |what: String| RingError::FileChanged { path: self.path.clone(), what };
        match std::fs::metadata(&self.path) {
            Ok(meta) if FileId::of(&meta) == self.id => Ok(()),
            Ok(_) => Err(changed("replaced by another file while in use".into())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(changed("removed while in use".into())),
            Err(e) => Err(changed(format!("stat failed: {e}"))),
        }
    }

    /// True when the path still names the mapped file.
    pub(crate) fn at_path(&self) -> bool {
        self.check_identity().is_ok()
    }

    /// Creates a fresh ring file at `path`, mode 0600, holding an exclusive
    /// `flock` on it for as long as the map lives.
    ///
    /// The file is built under a temporary name in the same directory and
    /// linked into place only once its header is complete, so an opener sees
    /// either no file or a fully initialised one. A file already at `path` is
    /// refused while its producer lives ([`RingError::ProducerActive`]) and
    /// removed when stale (see [`owner::claim`]).
    pub(crate) fn create(
        path: &Path,
        capacity: u64,
        record_size: usize,
        record_align: usize,
    ) -> Result<Self, RingError> {
        if !capacity.is_power_of_two() || !(2..=MAX_CAPACITY).contains(&capacity) {
            return Err(RingError::InvalidCapacity {
                path: path.to_owned(),
                capacity,
            });
        }
        assert!(
            record_align <= MAX_RECORD_ALIGN && record_size > 0,
            "record layout checked at compile time"
        );
        let len = layout::file_len(capacity, record_size).ok_or(RingError::InvalidCapacity {
            path: path.to_owned(),
            capacity,
        })?;
        let creation_id = new_creation_id();
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = path.with_file_name(format!(".{file_name}.{:x}.tmp", creation_id));
        let io = |operation: &'static str| {
            let path = path.to_owned();
            move |source| RingError::Io {
                path,
                operation,
                source,
            }
        };
        let result = (|| {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(io("create"))?;
            // fchmod: the mode given to open is masked by the umask; this is not.
            file.set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(io("fchmod 0600"))?;
            if !owner::try_lock_exclusive(&file).map_err(io("flock"))? {
                return Err(RingError::ProducerActive { path: path.to_owned(), pid: 0 });
            }
            // The mapping is populated at once: on a full tmpfs that would be a SIGBUS, so check first.
            let dir = tmp.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
            let available = owner::free_bytes(dir).map_err(io("statvfs"))?;
            if available < len {
                return Err(RingError::NoSpace { path: path.to_owned(), needed: len, available });
            }
            file.set_len(len).map_err(io("set_len"))?;
            let map = Self::map(path, file, len, capacity)?;
            let h = map.header();
            h.version.store(FORMAT_VERSION, Ordering::Relaxed);
            h.record_size.store(record_size as u32, Ordering::Relaxed);
            h.capacity.store(capacity, Ordering::Relaxed);
            h.creation_id.store(creation_id, Ordering::Relaxed);
            h.slots_offset.store(SLOTS_OFFSET as u64, Ordering::Relaxed);
            h.producer_pid.store(own_pid(), Ordering::Relaxed);
            h.heartbeat_ns
                .store(crate::clock::monotonic_ns(), Ordering::Relaxed);
            h.magic.store(MAGIC, Ordering::Release);
            owner::claim(path, &tmp)?;
            let _ = std::fs::remove_file(&tmp);
            Ok(map)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }

    /// Opens and validates an existing ring file of `record_size`-byte records.
    pub(crate) fn open(
        path: &Path,
        record_size: usize,
        expected_capacity: Option<u64>,
    ) -> Result<Self, RingError> {
        let io = |operation: &'static str| {
            let path = path.to_owned();
            move |source| RingError::Io {
                path,
                operation,
                source,
            }
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(io("open"))?;
        let len = file.metadata().map_err(io("stat"))?.len();
        let mismatch = |field, expected: String, found: u64| RingError::HeaderMismatch {
            path: path.to_owned(),
            field,
            expected,
            found,
        };
        if len < SLOTS_OFFSET as u64 {
            return Err(mismatch(
                HeaderField::FileLength,
                format!("at least {SLOTS_OFFSET} bytes"),
                len,
            ));
        }
        // Map the header alone first: the capacity it names decides the full length.
        let head = Self::map(path, file.try_clone().map_err(io("dup"))?, SLOTS_OFFSET as u64, 0)?;
        let h = head.header();
        let magic = h.magic.load(Ordering::Acquire);
        if magic != MAGIC {
            return Err(mismatch(
                HeaderField::Magic,
                format!("{MAGIC:#x} (\"GAVELRNG\")"),
                magic,
            ));
        }
        let version = h.version.load(Ordering::Relaxed);
        if version != FORMAT_VERSION {
            return Err(mismatch(
                HeaderField::Version,
                FORMAT_VERSION.to_string(),
                version as u64,
            ));
        }
        let found_size = h.record_size.load(Ordering::Relaxed);
        if found_size as usize != record_size {
            return Err(mismatch(
                HeaderField::RecordSize,
                format!("{record_size} bytes"),
                found_size as u64,
            ));
        }
        let slots_offset = h.slots_offset.load(Ordering::Relaxed);
        if slots_offset != SLOTS_OFFSET as u64 {
            return Err(mismatch(
                HeaderField::SlotsOffset,
                SLOTS_OFFSET.to_string(),
                slots_offset,
            ));
        }
        let capacity = h.capacity.load(Ordering::Relaxed);
        if !capacity.is_power_of_two() || !(2..=MAX_CAPACITY).contains(&capacity) {
            return Err(mismatch(
                HeaderField::Capacity,
                "a power of two in 2..=2^40".into(),
                capacity,
            ));
        }
        if let Some(expected) = expected_capacity {
            if capacity != expected {
                return Err(mismatch(
                    HeaderField::Capacity,
                    expected.to_string(),
                    capacity,
                ));
            }
        }
        let want_len = layout::file_len(capacity, record_size).unwrap_or(u64::MAX);
        if len != want_len {
            return Err(mismatch(
                HeaderField::FileLength,
                format!("{want_len} bytes ({SLOTS_OFFSET} + {capacity} × {record_size})"),
                len,
            ));
        }
        drop(head);
        Self::map(path, file, len, capacity)
    }

    fn map(path: &Path, file: File, len: u64, capacity: u64) -> Result<Self, RingError> {
        let id = FileId::of(&file.metadata().map_err(|source| RingError::Io {
            path: path.to_owned(),
            operation: "fstat",
            source,
        })?);
        let len_usize = usize::try_from(len).map_err(|_| RingError::InvalidCapacity {
            path: path.to_owned(),
            capacity,
        })?;
        // SAFETY: the mapping is MAP_SHARED over a file that other processes map
        // too. That is the point of the ring: every shared location is then
        // accessed only through atomics (the header) or through slots that the
        // cursor protocol hands to one side at a time, and the record types are
        // Pod, so any bytes another process leaves there are valid values.
        // Truncating the file while mapped would fault; ring files are never
        // truncated after creation.
        let mut mmap = unsafe { MmapOptions::new().len(len_usize).populate().map_mut(&file) }
            .map_err(|source| RingError::Io {
                path: path.to_owned(),
                operation: "mmap",
                source,
            })?;
        let base = NonNull::new(mmap.as_mut_ptr()).expect("mmap never returns null");
        debug_assert_eq!(base.as_ptr() as usize % 4096, 0);
        Ok(RingMap {
            _mmap: mmap,
            file,
            len,
            id,
            header: base.cast(),
            // SAFETY: len >= SLOTS_OFFSET (checked by callers), so offset 512 is inside the mapping (or one past its end for the header-only map, which is never dereferenced).
            slots: unsafe { NonNull::new_unchecked(base.as_ptr().add(SLOTS_OFFSET)) },
            capacity,
            path: path.to_owned(),
        })
    }
}

/// A value unique to one `create`: pid, two clocks and a stack address, mixed.
fn new_creation_id() -> u64 {
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    static CREATES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nth = CREATES.fetch_add(1, Ordering::Relaxed);
    let local = 0u8;
    let mut x = wall
        ^ crate::clock::monotonic_ns().rotate_left(29)
        ^ ((own_pid() as u64) << 40)
        ^ (&local as *const u8 as u64)
        ^ nth.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    // splitmix64 finaliser
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    let id = x ^ (x >> 31);
    if id == 0 {
        1
    } else {
        id
    }
}
