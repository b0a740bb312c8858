//! Shared by the gateway tests: a gateway on 127.0.0.1 between real shared-memory rings,
//! run on its own thread, with the engine's ends of both rings handed to the test.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use gavel_feeds::clock::Clock;
use gavel_feeds::ring::{default_ring_path, Consumer, ConsumerConfig, EventProducer, ProducerConfig};
use gavel_feeds::wire::Event;
use gavel_gateway::auth::{ApiKey, KeyTable};
use gavel_gateway::{EventClock, Gateway, GatewayConfig};

/// A running gateway and the engine's side of its rings.
pub struct Harness {
    /// What the gateway sends the engine.
    pub engine_in: Consumer<Event>,
    /// What the engine sends the gateway.
    pub engine_out: EventProducer,
    /// Where clients connect.
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Harness {
    /// Starts a gateway with `keys`; `configure` runs on it before it serves.
    pub fn start(tag: &str, keys: Vec<ApiKey>, configure: impl FnOnce(&mut Gateway)) -> Harness {
        let clock = Clock::calibrate(Duration::from_millis(20));
        let tag = format!("{tag}-{}", std::process::id());
        let (p_in, p_out) = (default_ring_path(&format!("{tag}-in")), default_ring_path(&format!("{tag}-out")));
        let to_engine = EventProducer::create(&p_in, ProducerConfig::new(1 << 10), clock).unwrap();
        let engine_in = Consumer::<Event>::open(&p_in, ConsumerConfig::default()).unwrap();
        let engine_out = EventProducer::create(&p_out, ProducerConfig::new(1 << 10), clock).unwrap();
        let from_engine = Consumer::<Event>::open(&p_out, ConsumerConfig::default()).unwrap();
        let config = GatewayConfig::new("127.0.0.1:0".parse().unwrap(), 1);
        let mut gateway = Gateway::bind(config, KeyTable::from_keys(keys), to_engine, from_engine, EventClock::start()).unwrap();
        configure(&mut gateway);
        let addr = gateway.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stop_g = stop.clone();
        let thread = std::thread::spawn(move || {
            let dump = AtomicBool::new(false);
            gateway.run(&stop_g, &dump, |_| {}).unwrap();
        });
        Harness { engine_in, engine_out, addr, stop, thread: Some(thread) }
    }

    /// Stops the gateway and waits for its thread (a gateway error fails the test).
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}
