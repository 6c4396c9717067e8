//! `fleetshift-bench wave|cost|engine`: the Rust benchmarks that `scripts/bench` runs. One binary
//! (not three) because each release link with LTO of the whole stack takes minutes.

mod cost;
mod engine;
mod wave;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest = args.get(1..).unwrap_or_default();
    match args.first().map(String::as_str) {
        Some("wave") => wave::main(rest),
        Some("cost") => cost::main(rest),
        Some("engine") => engine::main(rest),
        _ => {
            eprintln!("usage: fleetshift-bench wave|cost|engine [options]");
            std::process::exit(2);
        }
    }
}
