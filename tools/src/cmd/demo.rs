//! `gavel demo`: the built-in demo scenario.

/// Arguments of `gavel demo`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs the demo.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("the demo is being built")
}
