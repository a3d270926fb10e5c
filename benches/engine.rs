//! The engine's budget (issue 7): `evaluate`, and `evaluate` + `plan`, on generated
//! snapshots of 10, 1,000 and 10,000 mappings spread over 1, 100 and 1,000 VPCs.
//! Target: 10,000 mappings in under 100 ms, time linear in the number of mappings.
//!
//! ```sh
//! cargo bench --bench engine                  # everything (about 4 minutes)
//! cargo bench --bench engine -- 'evaluate/'   # one group
//! ESM_GUARD_BENCH_MIX=1 cargo bench --bench engine -- --list   # each snapshot's verdict mix, timed once
//! ESM_GUARD_BENCH_SIZES=10000x1,1000x100 cargo bench --bench engine   # only these sizes
//! ESM_GUARD_BENCH_PLAN_BUDGET=30 cargo bench --bench engine   # see below
//! ```
//!
//! Before sampling evaluate+plan on a size, one run is timed in a child process: a size
//! whose single run exceeds a tenth of the budget (default 30 s) is left out of the
//! samples (10 samples of it would take minutes), and one still running at the budget is
//! killed; both are reported on stderr with the time. The sizes and the budget are
//! environment variables because criterion owns the command line.
//!
//! The snapshots come from `esm_guard::sample::Sample`, built by `generate::account` in
//! benches/support/generate.rs (shared with examples/bench_snapshot.rs): every VPC carries
//! the same realistic layout, and mappings cycle through ten scenarios in it, so each size
//! has the same mix: about half healthy (endpoint path, NAT path, provisioned mode, MSK and
//! self-managed) and half broken (no service path, wrong broker port, dead NAT gateway,
//! locked-down security group, a network ACL that drops return traffic).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use esm_guard::model::Snapshot;
use esm_guard::plan::plan;
use esm_guard::{evaluate, Verdict};

#[path = "support/generate.rs"]
mod generate;
use generate::account;

/// (mappings, VPCs): every combination of {10, 1,000, 10,000} × {1, 100, 1,000} with
/// VPCs ≤ mappings.
const SIZES: [(usize, usize); 7] = [
    (10, 1),
    (1_000, 1),
    (1_000, 100),
    (1_000, 1_000),
    (10_000, 1),
    (10_000, 100),
    (10_000, 1_000),
];

/// This thread's CPU time (Linux: /proc/thread-self/schedstat), to tell the engine's cost
/// from time spent waiting for a core on a busy machine.
fn thread_cpu() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// The verdict mix of a snapshot, and the median wall and CPU time of five evaluates (plan:
/// see [`probe_plan`]).
fn mix(snapshot: &Snapshot) -> String {
    let report = evaluate(snapshot);
    let count = |v: Verdict| report.mappings.iter().filter(|m| m.verdict == v).count();
    let mut wall = Vec::new();
    let mut cpu = Vec::new();
    for _ in 0..5 {
        let (start, start_cpu) = (Instant::now(), thread_cpu());
        black_box(evaluate(black_box(snapshot)));
        wall.push(start.elapsed());
        if let (Some(a), Some(b)) = (start_cpu, thread_cpu()) {
            cpu.push(b - a);
        }
    }
    wall.sort();
    cpu.sort();
    format!(
        "pass {} / warn {} / fail {} / unknown {}; {} subnets, {} groups, {} endpoints, {} clusters; evaluate median of 5: {:.1} ms wall, {} CPU",
        count(Verdict::Pass),
        count(Verdict::Warn),
        count(Verdict::Fail),
        count(Verdict::Unknown),
        snapshot.subnets.len(),
        snapshot.security_groups.len(),
        snapshot.vpc_endpoints.len(),
        snapshot.clusters.len(),
        wall[2].as_secs_f64() * 1e3,
        cpu.get(2)
            .map_or("?".to_string(), |c| format!("{:.1} ms", c.as_secs_f64() * 1e3)),
    )
}

/// Whether criterion measures (`cargo bench`) rather than runs each benchmark once as a
/// test (`cargo test --all-targets`, which the test command runs in the dev profile).
fn measuring() -> bool {
    let args: Vec<String> = std::env::args().collect();
    args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test")
}

/// The sizes to run: `SIZES`, or `ESM_GUARD_BENCH_SIZES=MxV,...` (any sizes, e.g. for a
/// scaling study: `2000x1,4000x1`). As a test, two small sizes: it checks that the bench
/// runs and that its snapshots mix healthy and broken mappings, not how fast.
fn sizes() -> Vec<(usize, usize)> {
    if !measuring() && std::env::var_os("ESM_GUARD_BENCH_SIZES").is_none() {
        return vec![(10, 1), (100, 10)];
    }
    match std::env::var("ESM_GUARD_BENCH_SIZES") {
        Ok(list) => list
            .split(',')
            .map(|s| {
                let (m, v) = s.trim().split_once('x').expect("sizes look like 1000x100");
                (m.parse().expect("mappings"), v.parse().expect("VPCs"))
            })
            .collect(),
        Err(_) => SIZES.to_vec(),
    }
}

/// Times one evaluate + plan of `MxV` in a child process (this binary, `ESM_GUARD_BENCH_PROBE`)
/// so that a size that blows the budget can be stopped rather than stall the run:
/// `Ok((wall ms, CPU ms, actions, automatic actions))`, or `Err(budget)` when the child was
/// killed.
fn probe_plan(m: usize, v: usize, budget: Duration) -> Result<(f64, f64, usize, usize), Duration> {
    let mut child = std::process::Command::new(std::env::current_exe().expect("own path"))
        .env("ESM_GUARD_BENCH_PROBE", format!("{m}x{v}"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn the probe");
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait for the probe") {
            assert!(status.success(), "the probe of {m}x{v} failed");
            let mut out = String::new();
            std::io::Read::read_to_string(&mut child.stdout.take().expect("stdout"), &mut out)
                .expect("probe output");
            let fields: Vec<&str> = out.split_whitespace().collect();
            return Ok((
                fields[0].parse().expect("milliseconds"),
                fields[1].parse().expect("CPU milliseconds"),
                fields[2].parse().expect("actions"),
                fields[3].parse().expect("automatic actions"),
            ));
        }
        if start.elapsed() > budget {
            let _ = child.kill();
            let _ = child.wait();
            return Err(budget);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The child side of [`probe_plan`]: prints the milliseconds of one evaluate + plan.
fn probe(size: &str) {
    let (m, v) = size.split_once('x').expect("MxV");
    let snapshot = account(m.parse().expect("mappings"), v.parse().expect("VPCs"));
    let (start, start_cpu) = (Instant::now(), thread_cpu());
    let report = evaluate(&snapshot);
    let actions = black_box(plan(&snapshot, &report));
    let ms = start.elapsed().as_secs_f64() * 1e3;
    let cpu_ms = match (start_cpu, thread_cpu()) {
        (Some(a), Some(b)) => (b - a).as_secs_f64() * 1e3,
        _ => f64::NAN,
    };
    let automatic = actions.iter().filter(|a| a.automatic).count();
    println!("{ms} {cpu_ms} {} {automatic}", actions.len());
}

fn bench_engine(c: &mut Criterion) {
    let show_mix = std::env::var_os("ESM_GUARD_BENCH_MIX").is_some();
    // One evaluate + plan longer than this (seconds) leaves the size out of evaluate+plan.
    let budget = Duration::from_secs_f64(
        std::env::var("ESM_GUARD_BENCH_PLAN_BUDGET")
            .ok()
            .and_then(|b| b.parse().ok())
            .unwrap_or(30.0),
    );
    let snapshots: Vec<((usize, usize), Snapshot)> = sizes()
        .into_iter()
        .map(|(m, v)| {
            let start = Instant::now();
            let snapshot = account(m, v);
            if !measuring() {
                let report = evaluate(&snapshot);
                let count = |v: Verdict| report.mappings.iter().filter(|r| r.verdict == v).count();
                assert_eq!(report.mappings.len(), m);
                assert!(
                    count(Verdict::Pass) > 0 && count(Verdict::Fail) > 0,
                    "{m}x{v}: a realistic mix has healthy and broken mappings"
                );
            }
            if show_mix {
                eprintln!(
                    "mix {m} mappings / {v} VPCs (generated in {:.1} s): {}",
                    start.elapsed().as_secs_f64(),
                    mix(&snapshot)
                );
            }
            ((m, v), snapshot)
        })
        .collect();

    let mut group = c.benchmark_group("evaluate");
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(5));
    group.sample_size(20);
    for ((m, v), snapshot) in &snapshots {
        group.throughput(Throughput::Elements(*m as u64));
        group.bench_with_input(
            BenchmarkId::from_parameter(format!("{m}x{v}vpc")),
            snapshot,
            |b, snapshot| b.iter(|| evaluate(black_box(snapshot))),
        );
    }
    group.finish();

    let mut group = c.benchmark_group("evaluate+plan");
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(5));
    group.sample_size(10);
    for ((m, v), snapshot) in &snapshots {
        let id = format!("{m}x{v}vpc");
        // Probe only when this benchmark is selected (criterion's filter is the first
        // free argument), and not under `--list`.
        let args: Vec<String> = std::env::args().skip(1).collect();
        let listing = args.iter().any(|a| a == "--list");
        let filter = args.iter().find(|a| !a.starts_with('-'));
        let selected = filter.is_none_or(|f| format!("evaluate+plan/{id}").contains(f.as_str()));
        if (selected && !listing && measuring()) || show_mix {
            match probe_plan(*m, *v, budget) {
                Ok((ms, cpu_ms, actions, automatic)) => {
                    eprintln!(
                        "evaluate+plan/{id}: one run {ms:.1} ms wall, {cpu_ms:.1} ms CPU, {actions} actions ({automatic} automatic)"
                    );
                    if ms > budget.as_secs_f64() * 1e3 / 10.0 {
                        eprintln!("evaluate+plan/{id}: over a tenth of the budget: left out of the criterion samples");
                        continue;
                    }
                }
                Err(budget) => {
                    eprintln!(
                        "evaluate+plan/{id}: one run did not finish in {} s: left out",
                        budget.as_secs()
                    );
                    continue;
                }
            }
        }
        group.throughput(Throughput::Elements(*m as u64));
        group.bench_with_input(BenchmarkId::from_parameter(&id), snapshot, |b, snapshot| {
            b.iter(|| {
                let report = evaluate(black_box(snapshot));
                plan(black_box(snapshot), &report)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_engine);

fn main() {
    if let Ok(size) = std::env::var("ESM_GUARD_BENCH_PROBE") {
        return probe(&size);
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
