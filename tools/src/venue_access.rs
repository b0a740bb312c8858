//! How a client command reaches a running `gavel serve`: its address and the keys file
//! (the demo's, or one given), shared by `gavel load` and `gavel options vol-feed`.

use std::net::SocketAddr;
use std::path::PathBuf;

use gavel_gateway::auth::KeyTable;

/// The venue's address and keys, as command-line flags.
#[derive(clap::Args, Debug, Clone)]
pub struct VenueAccess {
    /// The venue's address.
    #[arg(long, default_value = "127.0.0.1:7878")]
    pub addr: SocketAddr,
    /// Use the demo venue's keys (`<data dir>/keys.toml`).
    #[arg(long, conflicts_with = "keys", required_unless_present = "keys")]
    pub demo: bool,
    /// The venue's keys file.
    #[arg(long)]
    pub keys: Option<PathBuf>,
    /// The demo's data directory.
    #[arg(long, default_value = "gavel-serve-data")]
    pub data_dir: PathBuf,
}

impl VenueAccess {
    /// The keys file's path and its keys; errors name the file.
    pub fn key_table(&self) -> anyhow::Result<(PathBuf, KeyTable)> {
        let path = self.keys.clone().unwrap_or_else(|| self.data_dir.join("keys.toml"));
        let text = std::fs::read_to_string(&path).map_err(|e| anyhow::anyhow!("{}: {e} (is `gavel serve --demo` running with this data dir?)", path.display()))?;
        let keys = KeyTable::parse(&path.display().to_string(), &text).map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok((path, keys))
    }
}
