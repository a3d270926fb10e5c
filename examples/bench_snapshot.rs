//! Writes one generated snapshot of the engine benchmark (benches/support/generate.rs) to a
//! file, for `esm-guard audit --snapshot FILE` (bench/memory.py measures its peak memory):
//!
//! ```sh
//! cargo run --profile bench --example bench_snapshot -- 10000 1000 target/bench-10000x1000.json
//! ```

#[allow(dead_code)]
#[path = "../benches/support/generate.rs"]
mod generate;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [mappings, vpcs, out] = args.as_slice() else {
        eprintln!("usage: bench_snapshot MAPPINGS VPCS OUT.json");
        std::process::exit(2);
    };
    let (mappings, vpcs): (usize, usize) = (
        mappings.parse().expect("MAPPINGS is a number"),
        vpcs.parse().expect("VPCS is a number"),
    );
    let snapshot = generate::account(mappings, vpcs);
    let text = serde_json::to_string(&snapshot).expect("a snapshot serializes");
    std::fs::write(out, text).expect("write the snapshot");
    eprintln!("wrote {mappings} mappings in {vpcs} VPCs to {out}");
}
