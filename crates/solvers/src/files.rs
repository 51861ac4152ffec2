//! Files written so that an interruption never leaves a half-written one: datasets, checkpoints,
//! run logs.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Write `bytes` to `path` through a temporary file beside it (`path` + `.tmp`), flushed to disk
/// and renamed over `path` (POSIX rename replaces atomically): a crash leaves the old file or
/// the new one, never a mixture.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}
