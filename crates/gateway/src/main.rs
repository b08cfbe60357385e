//! The `apisendsms` binary; everything happens in the `gateway` library.

fn main() -> anyhow::Result<()> {
    gateway::main()
}
