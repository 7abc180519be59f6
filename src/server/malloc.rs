//! glibc malloc settings for a server that holds many long-lived
//! connections and now and then hashes a password.
//!
//! Measured with `scripts/bench.sh` (docs/performance.md):
//!
//! - argon2 takes about 19 MiB per hash. glibc serves a block that big with
//!   `mmap` and returns it on free, but after the first such free it raises
//!   its mmap threshold to that size, so later hashes come from the heap
//!   and stay resident: a fresh server that had signed up 100 people held
//!   about 70 MiB it no longer used. A fixed threshold keeps big blocks on
//!   `mmap`: the same server holds about 14 MiB.
//! - glibc makes up to eight arenas per core, and each keeps its own free
//!   memory; idle event streams cost less with fewer (one per core here).
//!
//! Each setting is left alone when its environment variable
//! (`MALLOC_MMAP_THRESHOLD_`, `MALLOC_ARENA_MAX`) is set, which glibc reads
//! itself. Other C libraries: nothing to do.

/// Blocks this big or bigger come straight from (and go back to) the OS.
const MMAP_THRESHOLD: i32 = 256 * 1024;

/// Applies the settings. Call it first in `main`, before any thread starts.
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let arenas = std::thread::available_parallelism().map_or(2, |n| n.get());
        let arenas = i32::try_from(arenas).unwrap_or(i32::MAX);
        for (variable, parameter, value) in [
            (
                "MALLOC_MMAP_THRESHOLD_",
                libc::M_MMAP_THRESHOLD,
                MMAP_THRESHOLD,
            ),
            ("MALLOC_ARENA_MAX", libc::M_ARENA_MAX, arenas),
        ] {
            if std::env::var_os(variable).is_none() {
                // SAFETY: mallopt only changes malloc's tuning parameters;
                // it is called before any other thread exists.
                unsafe {
                    libc::mallopt(parameter, value);
                }
            }
        }
    }
}
