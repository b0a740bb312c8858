//! `gavel curve`: prints a Dutch-auction price curve using the engine's own
//! curve code (`gavel_engine::auction::curve`), one `t,price` line per time,
//! the price as the exact RAY value with all 27 fractional digits.

use anyhow::{bail, Context};
use gavel_engine::auction::curve::{Curve, NS_PER_SEC};
use gavel_engine::auction::fixed::{mul_div_floor, Ray, RAY};

/// Which curve shape to print.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum Shape {
    /// `top × (tau − t) / tau`, zero after `tau`.
    Linear,
    /// `top × cut^⌊t / step⌋`.
    Stairstep,
    /// `top × cut^⌊t⌋` (t in seconds).
    Exponential,
}

/// Arguments of `gavel curve`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Curve shape.
    #[arg(long)]
    curve: Shape,
    /// Starting price (`top`), a plain decimal.
    #[arg(long)]
    top: String,
    /// Seconds until the linear curve reaches zero (`tau`).
    #[arg(long)]
    tau: Option<u64>,
    /// Multiplicative factor per step (stairstep) or per second (exponential), in (0, 1].
    #[arg(long)]
    cut: Option<String>,
    /// Seconds between stairstep price drops (`step`).
    #[arg(long)]
    step: Option<u64>,
    /// Comma-separated times in seconds since the auction start (decimals allowed, ns resolution).
    #[arg(long, value_delimiter = ',', required = true)]
    at: Vec<String>,
}

/// Builds the curve from the arguments, naming any missing or bad parameter.
fn build_curve(args: &Args) -> anyhow::Result<Curve> {
    let cut = || -> anyhow::Result<Ray> {
        let text = args.cut.as_deref().context("--cut is required for this curve")?;
        Ray::parse(text).with_context(|| format!("--cut {text:?}"))
    };
    let curve = match args.curve {
        Shape::Linear => Curve::Linear {
            tau_s: args.tau.context("--tau is required for --curve linear")?,
        },
        Shape::Stairstep => Curve::Stairstep {
            cut: cut()?,
            step_s: args.step.context("--step is required for --curve stairstep")?,
        },
        Shape::Exponential => Curve::Exponential { cut: cut()? },
    };
    curve.validate().context("invalid curve parameters")?;
    Ok(curve)
}

/// Seconds as a decimal string → nanoseconds (truncated below 1 ns).
fn parse_seconds(text: &str) -> anyhow::Result<i64> {
    let secs = Ray::parse(text).with_context(|| format!("--at: bad time {text:?} (seconds, e.g. 90 or 1.5)"))?;
    let ns = mul_div_floor(secs.0, NS_PER_SEC as u128, RAY).context("--at: time too large")?;
    i64::try_from(ns).with_context(|| format!("--at: time {text:?} too large"))
}

/// Prints `t,price` for every requested time.
pub fn run(args: Args) -> anyhow::Result<()> {
    let curve = build_curve(&args)?;
    let top = Ray::parse(&args.top).with_context(|| format!("--top {:?}", args.top))?;
    if top.0 == 0 {
        bail!("--top must be positive");
    }
    let mut out = String::new();
    for at in &args.at {
        let ns = parse_seconds(at)?;
        let price = curve.price(top.0, ns);
        // Exact decimal with all 27 fractional digits of the RAY value.
        out.push_str(&format!("{},{}.{:027}\n", at.trim(), price / RAY, price % RAY));
    }
    print!("{out}");
    Ok(())
}
