//! Prints, in microseconds, how long a fresh process's first 32 random
//! bytes from aws-lc take (the DRBG's seeding, with CPU jitter entropy
//! when the build has it), then a second draw's.

use std::time::Instant;

use aws_lc_rs::rand::{SecureRandom, SystemRandom};

fn main() {
    let rng = SystemRandom::new();
    let mut buf = [0u8; 32];
    let t = Instant::now();
    if rng.fill(&mut buf).is_err() {
        eprintln!("no randomness");
        std::process::exit(1);
    }
    let first = t.elapsed();
    let t = Instant::now();
    if rng.fill(&mut buf).is_err() {
        std::process::exit(1);
    }
    let second = t.elapsed();
    println!("{} {}", first.as_micros(), second.as_micros());
}
