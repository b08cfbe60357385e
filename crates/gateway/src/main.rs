//! The `apisendsms` binary; everything happens in the `gateway` library.

/// glibc's allocator showed as ~12 % of the CPU under load, much of it contention between
/// threads; mimalloc keeps per-thread heaps.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    gateway::main()
}
