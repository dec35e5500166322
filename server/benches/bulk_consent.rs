//! Bulk CPV consent for 1,000 customers against the simulator's 50-calls-per-second limit: how
//! long the job takes and how many 429s it draws, with a clean service, with a clean service
//! beside a process busy in short bursts, and with the simulator answering 429 to 10 % of the
//! consent calls.
//!
//! `cargo bench -p server --bench bulk_consent` runs the real dashboard in-process (SQLite in a
//! temporary directory, the built-in simulator) on 127.0.0.1, prints the results and writes them
//! into BENCHMARKS.md between `<!-- bulk-consent:start -->` and `<!-- bulk-consent:end -->`.
//! Without `--bench` (as under `cargo test --all-targets`) it runs a small smoke pass instead
//! and writes nothing, so a debug build never records figures.

// A failed step leaves nothing to measure, so the harness stops there with the reason
// (`expect("…")`) rather than threading errors through.

// The integration tests' harness: the real server on a free loopback port with the in-process
// simulator, and sign-in through it.
#[path = "../tests/it/common/mod.rs"]
mod common;
mod support;

use app::ssr::jobs::limiter::DEPARTURE_WINDOW;
use app::ssr::jobs::runner::JOB_CONCURRENCY;
use app::ssr::partner_center::{ATTEMPTS, THROTTLED_ATTEMPTS};
use common::{Options, TestServer, ADMIN_UPN};
use serde_json::Value;
use simulator::FaultConfig;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};
use support::{machine, thousands, write_section, CpuTimes, Machine};

const START: &str = "<!-- bulk-consent:start -->";
const END: &str = "<!-- bulk-consent:end -->";
const POLL_EVERY: Duration = Duration::from_millis(20);

struct Plan {
    customers: usize,
    runs: usize,
}

const FULL: Plan = Plan {
    customers: 1_000,
    runs: 3,
};

const SMOKE: Plan = Plan {
    customers: 30,
    runs: 1,
};

struct Scenario {
    name: &'static str,
    /// The share of consent calls the simulator answers with an injected 429 (Retry-After: 1).
    injected_429: f64,
    /// The goal: the limit's own time for the calls plus this much.
    slack: Duration,
    /// The goal also asks for no rate-limit 429 at all.
    no_throttling: bool,
    /// Another process shares the machine, busy in short bursts (see `busy_neighbour`).
    busy_neighbour: bool,
}

const SCENARIOS: [Scenario; 3] = [
    Scenario {
        name: "clean service",
        injected_429: 0.0,
        slack: Duration::from_secs(1),
        no_throttling: true,
        busy_neighbour: false,
    },
    Scenario {
        name: "clean service, a busy neighbour process",
        injected_429: 0.0,
        slack: Duration::from_secs(1),
        no_throttling: true,
        busy_neighbour: true,
    },
    Scenario {
        name: "10 % of consent calls answered 429",
        injected_429: 0.1,
        slack: Duration::from_secs(6),
        no_throttling: false,
        busy_neighbour: false,
    },
];

/// The neighbour: this bench's own binary, started with this argument.
const BUSY_NEIGHBOUR: &str = "--busy-neighbour";

/// Busy for 10 ms of every 100 ms on one CPU, until killed: about 5 % of a 2-CPU machine, in
/// bursts that delay whichever of the dashboard's tasks they land on.
fn busy_neighbour() -> ! {
    loop {
        let burst = Instant::now();
        let mut spin = 0_u64;
        while burst.elapsed() < Duration::from_millis(10) {
            spin = std::hint::black_box(spin.wrapping_add(1));
        }
        std::thread::sleep(Duration::from_millis(90));
    }
}

/// Kills the neighbour when the run is over, however it ends.
struct Neighbour(std::process::Child);

impl Neighbour {
    fn start() -> Neighbour {
        let exe = std::env::current_exe().expect("the bench knows its own binary");
        Neighbour(
            std::process::Command::new(exe)
                .arg(BUSY_NEIGHBOUR)
                .spawn()
                .expect("the busy neighbour starts"),
        )
    }
}

impl Drop for Neighbour {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == BUSY_NEIGHBOUR) {
        busy_neighbour();
    }
    let full = std::env::args().any(|a| a == "--bench");
    let plan = if full { FULL } else { SMOKE };
    // SQLite in a temporary directory; the simulator's demo data, whose seed is fixed.
    let server = TestServer::start_with(Options {
        customers: plan.customers,
        ..Options::default()
    })
    .await;
    // Landing on /customers takes the snapshot the job's filter selects from.
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    let limit = server.simulator.config().consent_rate_limit_per_second;
    // What the limit itself allows: one call per customer at `limit` per second.
    let allowance = Duration::from_secs_f64(plan.customers as f64 / f64::from(limit.max(1)));

    let cpu_before = CpuTimes::now();
    let mut results = Vec::new();
    for scenario in &SCENARIOS {
        let mut runs = Vec::with_capacity(plan.runs);
        for _ in 0..plan.runs {
            let run = measure(&server, &client, &plan, scenario, allowance).await;
            println!(
                "{}: {:.2} s, {} rate-limit 429s, {} injected, {} consent calls, {} done, {} failed",
                scenario.name,
                run.wall.as_secs_f64(),
                run.throttled,
                run.injected,
                run.consent_calls,
                run.done,
                run.failed
            );
            if !full {
                assert_eq!(
                    (run.done, run.failed, run.pending),
                    (plan.customers, 0, 0),
                    "{}: not every item done",
                    scenario.name
                );
                assert_eq!(
                    run.applied_twice, 0,
                    "{}: a write applied twice",
                    scenario.name
                );
                assert_eq!(
                    run.not_applied, 0,
                    "{}: a done item unapplied",
                    scenario.name
                );
            }
            runs.push(run);
        }
        results.push(ScenarioResult {
            scenario,
            goal: allowance + scenario.slack,
            runs,
        });
    }
    let others = cpu_before
        .zip(CpuTimes::now())
        .map(|(a, b)| a.others_share(&b));

    let report = Report {
        plan: &plan,
        seed: server.simulator.config().seed,
        limit,
        allowance,
        spacing: server.state.jobs.limiter.spacing(),
        machine: machine(),
        others,
        results,
    }
    .to_markdown();
    println!("{report}");
    if full {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("the server crate sits in the workspace")
            .join("BENCHMARKS.md");
        write_section(&path, START, END, &report);
        println!("written to {}", path.display());
    } else {
        println!("smoke run (no --bench): nothing written");
    }
}

/// One bulk grant job, from the start call until the job is finished.
struct Run {
    wall: Duration,
    /// Until `start_consent_job` answered (the job and its items stored).
    start_call: Duration,
    /// Until a poll first saw an item settled, and saw none pending.
    first_settled: Option<Duration>,
    all_settled: Option<Duration>,
    /// The simulator's counters over the run.
    throttled: u64,
    injected: u64,
    api_calls: u64,
    /// Consent calls that reached the simulator: the sum of `received` over the items' ids.
    consent_calls: u64,
    /// Items that needed more than one attempt.
    retried: usize,
    done: usize,
    failed: usize,
    pending: usize,
    applied_twice: usize,
    /// Items reported done whose write the simulator never applied.
    not_applied: usize,
    polls: usize,
    poll_time: Duration,
    /// The share of all CPUs' time other processes used during the run.
    others: Option<f64>,
    /// What the failed items' rows say.
    failures: Vec<String>,
    /// Polls of `/jobs/{id}.json` not answered 200: status, when, body.
    poll_errors: Vec<String>,
}

async fn measure(
    server: &TestServer,
    client: &reqwest::Client,
    plan: &Plan,
    scenario: &Scenario,
    allowance: Duration,
) -> Run {
    // A fresh application: nothing consented yet and an empty rate window on both sides.
    let application = uuid::Uuid::new_v4().to_string();
    server.simulator.set_faults(if scenario.injected_429 > 0.0 {
        FaultConfig {
            error_rates: BTreeMap::from([(429, scenario.injected_429)]),
            path_contains: Some("applicationconsents".into()),
            ..FaultConfig::default()
        }
    } else {
        FaultConfig::default()
    });
    let _neighbour = scenario.busy_neighbour.then(Neighbour::start);
    let before = counters(&server.sim_state().await);
    let cpu_before = CpuTimes::now();

    let started = Instant::now();
    let response = server
        .call_with(
            client,
            "start_consent_job",
            &[
                ("filter", ""),
                ("action", "grant"),
                ("application_id", application.as_str()),
                ("display_name", "Bench CPV"),
                ("preset_graph", "on"),
                ("confirm", "on"),
            ],
        )
        .await;
    let status = response.status();
    let body = response.text().await.expect("start_consent_job's body");
    assert_eq!(status, 200, "start_consent_job failed: {body}");
    let id: String = serde_json::from_str(&body).expect("a job id");
    let start_call = started.elapsed();

    let deadline = started + (allowance * 5).max(Duration::from_secs(60));
    let url = server.url(&format!("/jobs/{id}.json"));
    let (mut polls, mut poll_time) = (0, Duration::ZERO);
    let (mut first_settled, mut all_settled) = (None, None);
    let mut poll_errors = Vec::new();
    let (job, wall) = loop {
        let asked = Instant::now();
        let response = client.get(&url).send().await.expect("the job answers");
        let status = response.status();
        let body = response.text().await.expect("the job's body");
        let at = started.elapsed();
        polls += 1;
        poll_time += asked.elapsed();
        assert!(
            Instant::now() < deadline,
            "{}: job {id} not finished after {:?}",
            scenario.name,
            started.elapsed()
        );
        // A failed poll is not a failed job: noted, and asked again.
        if status != 200 {
            println!("GET {url} at {at:?}: {status} {body}");
            poll_errors.push(format!("{status} at {:.2} s: {body}", at.as_secs_f64()));
            tokio::time::sleep(POLL_EVERY).await;
            continue;
        }
        let job: Value = serde_json::from_str(&body).expect("the job's JSON");
        if job["summary"]["finished_at"].is_string() {
            break (job, at);
        }
        let counts = &job["summary"]["counts"];
        if first_settled.is_none() && count(counts, "pending") < count(counts, "total") {
            first_settled = Some(at);
        }
        if all_settled.is_none() && count(counts, "total") > 0 && count(counts, "pending") == 0 {
            all_settled = Some(at);
        }
        tokio::time::sleep(POLL_EVERY).await;
    };
    let others = cpu_before
        .zip(CpuTimes::now())
        .map(|(a, b)| a.others_share(&b));
    server.simulator.set_faults(FaultConfig::default());

    let sim = server.sim_state().await;
    let after = counters(&sim);
    let counts = &job["summary"]["counts"];
    assert_eq!(
        count(counts, "total"),
        plan.customers,
        "the job's customers"
    );
    let items = job["items"].as_array().expect("the job's items");
    let (mut consent_calls, mut retried, mut applied_twice, mut not_applied) = (0, 0, 0, 0);
    let mut failures = Vec::new();
    for item in items {
        let request_id = item["request_id"].as_str().expect("an MS-RequestId");
        let write = &sim["writes"][request_id];
        let applied = write["applied"].as_u64().unwrap_or(0);
        consent_calls += write["received"].as_u64().unwrap_or(0);
        retried += usize::from(item["attempts"].as_u64().unwrap_or(0) > 1);
        applied_twice += usize::from(applied > 1);
        not_applied += usize::from(item["status"] == "done" && applied == 0);
        if item["status"] == "failed" {
            failures.push(format!(
                "{} attempts, last status {}: {}",
                item["attempts"], item["upstream_status"], item["detail"]
            ));
        }
    }
    Run {
        wall,
        start_call,
        first_settled,
        all_settled: all_settled.or(Some(wall)),
        throttled: after.throttled - before.throttled,
        injected: after.injected - before.injected,
        api_calls: after.api_calls - before.api_calls,
        consent_calls,
        retried,
        done: count(counts, "done"),
        failed: count(counts, "failed"),
        pending: count(counts, "pending") + count(counts, "cancelled"),
        applied_twice,
        not_applied,
        polls,
        poll_time,
        others,
        failures,
        poll_errors,
    }
}

fn count(counts: &Value, name: &str) -> usize {
    counts[name]
        .as_u64()
        .and_then(|n| usize::try_from(n).ok())
        .expect("a job count")
}

struct Counters {
    throttled: u64,
    injected: u64,
    api_calls: u64,
}

fn counters(sim: &Value) -> Counters {
    let get = |name: &str| sim["counters"][name].as_u64().expect("a simulator counter");
    Counters {
        throttled: get("throttled"),
        injected: get("injectedFaults"),
        api_calls: get("apiCalls"),
    }
}

struct ScenarioResult<'a> {
    scenario: &'a Scenario,
    goal: Duration,
    runs: Vec<Run>,
}

impl ScenarioResult<'_> {
    /// Wall times in seconds, sorted.
    fn walls(&self) -> Vec<f64> {
        let mut walls: Vec<f64> = self.runs.iter().map(|r| r.wall.as_secs_f64()).collect();
        walls.sort_by(f64::total_cmp);
        walls
    }

    /// The run with the median wall time.
    fn median_run(&self) -> &Run {
        let mut runs: Vec<&Run> = self.runs.iter().collect();
        runs.sort_by_key(|r| r.wall);
        runs[(runs.len() - 1) / 2]
    }

    /// What missed the goal, empty when every run met it.
    fn misses(&self, customers: usize) -> Vec<&'static str> {
        let mut misses = Vec::new();
        if self.runs.iter().any(|r| r.wall > self.goal) {
            misses.push("time");
        }
        if self.scenario.no_throttling && self.runs.iter().any(|r| r.throttled > 0) {
            misses.push("429s");
        }
        if self.runs.iter().any(|r| r.done != customers) {
            misses.push("items not done");
        }
        if self
            .runs
            .iter()
            .any(|r| r.applied_twice > 0 || r.not_applied > 0)
        {
            misses.push("writes");
        }
        misses
    }
}

/// Nearest-rank median of sorted values.
fn median(sorted: &[f64]) -> f64 {
    sorted
        .get((sorted.len().max(1) - 1) / 2)
        .copied()
        .unwrap_or(f64::NAN)
}

fn max(sorted: &[f64]) -> f64 {
    sorted.last().copied().unwrap_or(f64::NAN)
}

fn share(share: Option<f64>) -> String {
    share.map_or("?".into(), |share| format!("{:.0} %", share * 100.0))
}

fn secs(d: Option<Duration>) -> String {
    d.map_or("?".into(), |d| format!("{:.2} s", d.as_secs_f64()))
}

struct Report<'a> {
    plan: &'a Plan,
    seed: u64,
    limit: u32,
    allowance: Duration,
    /// The dashboard's spacing between two consent calls of one application.
    spacing: Duration,
    machine: Machine,
    /// The share of all CPUs' time that other processes used while this one measured.
    others: Option<f64>,
    results: Vec<ScenarioResult<'a>>,
}

impl Report<'_> {
    fn to_markdown(&self) -> String {
        let (plan, m) = (self.plan, &self.machine);
        let allowance = self.allowance.as_secs_f64();
        let per_run = |f: &dyn Fn(&Run) -> String, r: &ScenarioResult| {
            r.runs.iter().map(f).collect::<Vec<_>>().join(" / ")
        };

        let mut s = String::new();
        let _ = writeln!(s, "{START}");
        let _ = writeln!(
            s,
            "## Bulk consent: {} customers at {} consent calls per second\n",
            thousands(plan.customers),
            self.limit
        );
        let _ = writeln!(s, "Command: `cargo bench -p server --bench bulk_consent`  ");
        let _ = writeln!(
            s,
            "Machine: {} CPUs (`nproc`), {}, {}; other processes used {} of the CPU time \
             during the measurements\n",
            m.cpus,
            m.model,
            m.date,
            share(self.others),
        );
        let _ = writeln!(
            s,
            "| scenario | customers | wall time ({}) | wall ÷ {} | rate-limit \
             429s (per run) | injected 429s (per run) | consent calls (per run) | items done / \
             failed (all runs) | writes applied twice | CPU used by other processes (per run) \
             | goal | met |",
            plural(plan.runs, "run"),
            seconds(allowance),
        );
        let _ = writeln!(
            s,
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
        );
        for r in &self.results {
            let walls = r.walls();
            let misses = r.misses(plan.customers);
            let goal = if r.scenario.no_throttling {
                format!("≤ {}, zero 429s", seconds(r.goal.as_secs_f64()))
            } else {
                format!("≤ {}, every item done", seconds(r.goal.as_secs_f64()))
            };
            let _ = writeln!(
                s,
                "| {} | {} | median {:.2} s, max {:.2} s | median {:.3}, max {:.3} | {} | {} | {} \
                 | {} / {} | {} | {} | {goal} | {} |",
                r.scenario.name,
                thousands(plan.customers),
                median(&walls),
                max(&walls),
                median(&walls) / allowance,
                max(&walls) / allowance,
                per_run(&|run| run.throttled.to_string(), r),
                per_run(&|run| run.injected.to_string(), r),
                per_run(&|run| thousands(run.consent_calls as usize), r),
                thousands(r.runs.iter().map(|run| run.done).sum()),
                thousands(r.runs.iter().map(|run| run.failed).sum()),
                r.runs.iter().map(|run| run.applied_twice).sum::<usize>(),
                per_run(&|run| share(run.others), r),
                if misses.is_empty() {
                    "yes".to_string()
                } else {
                    format!("no ({})", misses.join(", "))
                },
            );
        }
        let spacing_ms = self.spacing.as_secs_f64() * 1000.0;
        let _ = writeln!(
            s,
            "\nWhere the time goes (the median run of each scenario; times from the start call):\n"
        );
        for r in &self.results {
            let run = r.median_run();
            let floor = run.consent_calls.saturating_sub(1) as f64 * spacing_ms / 1000.0;
            let other_calls = run.api_calls.saturating_sub(run.consent_calls);
            let _ = writeln!(
                s,
                "- {}: `start_consent_job` answered in {:.0} ms; first item settled by {}, the \
                 last by {}, job finished at {:.2} s. {} consent calls spaced {spacing_ms:.1} ms \
                 apart take {floor:.2} s at the least; {} items needed more than one attempt; \
                 {} other API calls; {} polls of the job took {:.1} ms each on average.{}",
                r.scenario.name,
                run.start_call.as_secs_f64() * 1000.0,
                secs(run.first_settled),
                secs(run.all_settled),
                run.wall.as_secs_f64(),
                thousands(run.consent_calls as usize),
                thousands(run.retried),
                other_calls,
                thousands(run.polls),
                run.poll_time.as_secs_f64() * 1000.0 / run.polls.max(1) as f64,
                if r.runs.iter().any(|run| run.not_applied > 0) {
                    " Some items were reported done without their write applied."
                } else {
                    ""
                },
            );
        }
        let failures: Vec<&String> = self
            .results
            .iter()
            .flat_map(|r| r.runs.iter().flat_map(|run| &run.failures))
            .collect();
        if !failures.is_empty() {
            let _ = writeln!(s, "\nFailed items:\n");
            for failure in failures {
                let _ = writeln!(s, "- {failure}");
            }
        }
        for r in &self.results {
            let errors: Vec<&String> = r.runs.iter().flat_map(|run| &run.poll_errors).collect();
            if let Some(first) = errors.first() {
                let _ = writeln!(
                    s,
                    "\n{}: {} polls of the job were not answered 200 (the job went on); the \
                     first: {}",
                    r.scenario.name,
                    errors.len(),
                    first.chars().take(300).collect::<String>()
                );
            }
        }
        let _ = writeln!(
            s,
            "\nMethod: the dashboard runs in-process (release build, SQLite in a temporary \
             directory, simulator with {} customers, seed {}, {} consent calls per second per \
             application in a sliding second) on 127.0.0.1, signed in as {ADMIN_UPN}. Each run \
             grants consent for a new application id (so nothing is consented yet and both \
             rate windows start empty) to every customer with `POST /api/start_consent_job` \
             (empty filter, Graph preset); the wall time runs from sending that call until \
             `GET /jobs/{{id}}.json` (polled every {} ms) shows `finished_at`. The dashboard \
             sends at most {JOB_CONCURRENCY} customers at once, {spacing_ms:.1} ms apart per \
             application, and each call only when fewer than {} calls of the application left \
             in the last {} ms, up to {ATTEMPTS} attempts each ({THROTTLED_ATTEMPTS} while \
             answered 429) with backoff honouring Retry-After. The busy neighbour is this \
             bench's binary started again with `--busy-neighbour`: it spins on one CPU for 10 ms \
             of every 100 ms, in the scenario that names it. \
             The 429 counts are differences of the simulator's counters over the run: \
             `throttled` (its own rate limit answered 429) and `injectedFaults` (the fault \
             configuration answered 429, with Retry-After: 1, to that share of the calls whose \
             path contains `applicationconsents`). Consent calls are the simulator's `received` \
             summed over the items' MS-RequestIds; a write applied twice is an MS-RequestId \
             the simulator applied more than once. The goal is the limit's own time, \
             {} customers ÷ {} per second = {}, plus the slack the issue allows; \
             it is met when every run meets it.",
            thousands(plan.customers),
            self.seed,
            self.limit,
            POLL_EVERY.as_millis(),
            self.limit.saturating_sub(1),
            DEPARTURE_WINDOW.as_millis(),
            thousands(plan.customers),
            self.limit,
            seconds(allowance),
        );
        // An item fails when every attempt draws an injected 429.
        if let Some(rate) = self
            .results
            .iter()
            .map(|r| r.scenario.injected_429)
            .find(|rate| *rate > 0.0)
        {
            let per_item = rate.powi(i32::try_from(THROTTLED_ATTEMPTS).unwrap_or(8));
            let _ = writeln!(
                s,
                "\nWith {:.0} % of the calls answered 429 at random and {THROTTLED_ATTEMPTS} \
                 attempts per throttled item, an item fails when all of its attempts draw one: \
                 {per_item:.1e} per item, {:.6} items per run of {}, so {:.4} % of such runs end \
                 with every item done.",
                rate * 100.0,
                per_item * plan.customers as f64,
                thousands(plan.customers),
                (1.0 - per_item).powf(plan.customers as f64) * 100.0,
            );
        }
        let _ = write!(s, "{END}");
        s
    }
}

/// Whole seconds as "20 s", others to a tenth: "0.6 s".
fn seconds(s: f64) -> String {
    let tenths = format!("{s:.1}");
    format!("{} s", tenths.strip_suffix(".0").unwrap_or(&tenths))
}

fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
