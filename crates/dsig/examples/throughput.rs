//! Signs and verifies the shared CEB samples in a loop and prints how many per second, on one
//! thread (the figures, not a test: nothing is asserted). Run it optimised:
//!
//! ```sh
//! cargo run --release -p dsig --example throughput [SECONDS_PER_FIGURE]
//! ```
use std::time::{Duration, Instant};

const SAMPLES: [(&str, &[u8]); 5] = [
    (
        "CEB311 order",
        include_bytes!("../test_data/ceb/CEB311Message.xml"),
    ),
    (
        "CEB411 payment",
        include_bytes!("../test_data/ceb/CEB411Message.xml"),
    ),
    (
        "CEB511 waybill",
        include_bytes!("../test_data/ceb/CEB511Message.xml"),
    ),
    (
        "CEB621 inventory",
        include_bytes!("../test_data/ceb/CEB621Message.xml"),
    ),
    (
        "CEB622 receipt",
        include_bytes!("../test_data/ceb/CEB622Message.xml"),
    ),
];

/// Calls `work` for about `budget` and gives the calls per second.
fn rate(budget: Duration, mut work: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut calls = 0u64;
    while start.elapsed() < budget {
        work();
        calls += 1;
    }
    calls as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let seconds: f64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1.0);
    let budget = Duration::from_secs_f64(seconds);
    let identity =
        dsig::Identity::generate("Bench Enterprise 测试企业", b"bench").expect("identity");
    let registered = identity.registered_key().clone();
    println!("one thread, {seconds} s per figure");
    println!(
        "{:<18} {:>7} {:>10} {:>10} {:>12} {:>10}",
        "message", "bytes", "c14n/s", "sign/s", "verify/s", "MB/s"
    );
    for (name, document) in SAMPLES {
        let signed = dsig::sign(document, &identity).expect("signs");
        registered.verify(&signed).expect("verifies");
        let c14n = rate(budget, || {
            std::hint::black_box(dsig::canonicalize(std::hint::black_box(&signed)).ok());
        });
        let sign = rate(budget, || {
            std::hint::black_box(dsig::sign(std::hint::black_box(document), &identity).ok());
        });
        let verify = rate(budget, || {
            std::hint::black_box(registered.verify(std::hint::black_box(&signed)).ok());
        });
        println!(
            "{name:<18} {:>7} {c14n:>10.0} {sign:>10.0} {verify:>12.0} {:>10.1}",
            signed.len(),
            verify * signed.len() as f64 / 1e6
        );
    }
    let certificate = identity.certificate_der().to_vec();
    let signed = dsig::sign(SAMPLES[1].1, &identity).expect("signs");
    let cold = rate(budget, || {
        std::hint::black_box(dsig::verify(&signed, &certificate).ok());
    });
    println!("verify reading the certificate each call (CEB411): {cold:.0}/s");
    // The bench's shape: every core verifying messages of registered enterprises.
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let total: f64 = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let (registered, signed) = (&registered, &signed);
                scope.spawn(move || {
                    rate(budget, || {
                        std::hint::black_box(registered.verify(signed).ok());
                    })
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0.0)).sum()
    });
    println!("verify on {threads} threads, one registered key (CEB411): {total:.0}/s");
}
