//! Benchmark probes of a running `sesame serve --manifests` with a real Envoy: start → the last
//! of N hosts routing, Sesame's peak and idle memory, and the cost of a change (manifest write →
//! Envoy routing the new backend) for isolated changes and for bursts. Writes Markdown tables.
//!
//! Run: `cargo bench -p sesame --bench serve` (needs Envoy: `scripts/setup-envoy.sh`).
//! - `SESAME_BENCH_RSS_SIZES` (default `0,1000,10000`; 0 is the idle row): startup and memory;
//! - `SESAME_BENCH_LATENCY_SIZES` (default `2,1000`; 5000 and 10000 are run by hand);
//! - `SESAME_BENCH_LATENCY_SAMPLES` (default 40 changes per probe);
//! - `SESAME_BENCH_XDS_MODE` (`sotw` or `delta`): passed as `--xds-mode` to `sesame bootstrap`
//!   when set; unset, nothing is passed (Sesame's default).
#![allow(missing_docs)]

#[path = "support/figures.rs"]
mod figures;
#[path = "support/fixtures.rs"]
mod fixtures;
#[path = "../tests/e2e/harness.rs"]
#[allow(dead_code)]
mod harness;
#[path = "support/probe.rs"]
mod probe;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use figures::{ms, percentile};
use probe::{KeepAlive, count_routed, wait_routed};

/// Echo backends the probe Ingress cycles through; change `k` routes to `probe-<k % BACKENDS>`.
/// Every change of a burst arrives before the next burst starts, so Envoy only ever serves one
/// of the current burst's states or the one before it: with more backends than changes in a
/// burst, a reply names the change it reflects without ambiguity.
const BACKENDS: usize = 40;

/// How long to wait for startup at the largest sizes (Envoy with stats on needs tens of seconds
/// for 10k clusters).
const STARTUP_PATIENCE: Duration = Duration::from_secs(300);

fn sizes(var: &str, default: &[usize]) -> Vec<usize> {
    std::env::var(var)
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| default.to_vec())
}

/// `--xds-mode <mode>` for `sesame bootstrap` when `SESAME_BENCH_XDS_MODE` is set.
fn xds_mode_args() -> Vec<String> {
    match std::env::var("SESAME_BENCH_XDS_MODE") {
        Ok(mode) if !mode.is_empty() => vec!["--xds-mode".to_string(), mode],
        _ => Vec::new(),
    }
}

/// Starts Envoy (bootstrap flags from [`xds_mode_args`]) without waiting for it.
fn spawn_envoy(cluster: &mut harness::Cluster) {
    let args = xds_mode_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    cluster.spawn_envoy(&args);
}

/// Milliseconds since the Unix epoch.
fn unix_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
        * 1e3
}

/// The value of the first line starting with `prefix` (then a space) at `path` on `port`.
async fn stat(port: u16, path: &str, prefix: &str) -> f64 {
    let reply = harness::get_plain(port, "127.0.0.1", path)
        .await
        .unwrap_or_default();
    reply
        .body
        .lines()
        .find_map(|l| {
            l.strip_prefix(prefix)
                .and_then(|rest| rest.trim().parse().ok())
        })
        .unwrap_or(f64::NAN)
}

/// Sesame's last build, in Unix milliseconds.
async fn last_build_ms(metrics: u16) -> f64 {
    stat(metrics, "/metrics", "sesame_dagrebuild_timestamp").await * 1e3
}

/// When Envoy last applied the `ingress_http` route configuration, in Unix milliseconds.
async fn envoy_rds_applied_ms(admin: u16) -> f64 {
    stat(
        admin,
        "/stats?filter=^http.ingress_http.rds.ingress_http.update_time$",
        "http.ingress_http.rds.ingress_http.update_time:",
    )
    .await
}

fn since(wall_ms: f64, later_ms: f64) -> Duration {
    Duration::from_secs_f64(((later_ms - wall_ms) / 1e3).max(0.0))
}

/// Start → the last of N hosts routing through Envoy, and memory, for one N (0: idle).
async fn startup(n: usize) -> String {
    // One echo backend on 0.0.0.0 answers for every fixture endpoint (127.0.x.y).
    let fixture = harness::backend_on("fixture", std::net::Ipv4Addr::UNSPECIFIED.into()).await;
    let port = i32::from(fixture.addr.port());
    let chunk = 5000;
    let files: Vec<(String, String)> = (0..n.div_ceil(chunk))
        .map(|c| {
            (
                format!("fixtures-{c:03}.json"),
                fixtures::manifest(c * chunk..((c + 1) * chunk).min(n), port),
            )
        })
        .collect();
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let mut cluster = harness::Cluster::sesame_only(&refs, &[]);
    let (started, wall) = (Instant::now(), unix_ms());
    drop(refs);
    drop(files);
    spawn_envoy(&mut cluster);
    let (routed, checked) = if n == 0 {
        let stats = cluster.ports.stats;
        let ready = harness::eventually(STARTUP_PATIENCE, || async move {
            matches!(harness::get_plain(stats, "127.0.0.1", "/ready").await, Ok(r) if r.status == 200)
        })
        .await;
        assert!(ready, "Envoy never became ready\n{}", cluster.logs());
        (started.elapsed(), "Envoy ready (no hosts)".to_string())
    } else {
        // 100 hosts spread over the N (first and last included), timed; then all N, untimed.
        let mut sample: Vec<usize> = (0..100).map(|k| k * (n - 1) / 99).collect();
        sample.dedup();
        let ok = wait_routed(cluster.ports.http, sample, STARTUP_PATIENCE).await;
        assert!(ok, "the hosts never routed\n{}", cluster.logs());
        let routed = started.elapsed();
        let all = count_routed(cluster.ports.http, n).await;
        (routed, format!("{all} of {n}"))
    };
    let built = since(wall, last_build_ms(cluster.ports.metrics).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (hwm, rss) = cluster.sesame.memory_mib();
    let envoy_rss = cluster
        .envoy
        .as_ref()
        .map(|e| e.memory_mib().1)
        .unwrap_or(f64::NAN);
    eprintln!("startup {n}: {routed:?}, built {built:?}, {hwm:.1} MiB peak");
    format!(
        "| {n} | {} | {} | {checked} | {hwm:.1} MiB | {rss:.1} MiB | {envoy_rss:.0} MiB |",
        ms(built),
        ms(routed),
    )
}

/// One kind of latency probe.
struct Probe {
    /// Changes per burst (1: isolated).
    burst: usize,
    /// Time between the changes of a burst.
    spacing: Duration,
}

/// Quiet time before each burst (and each isolated change): longer than the maximum holdoff
/// (500 ms), so the first change of a burst is never held back.
const QUIET: Duration = Duration::from_millis(700);

/// The figures of one probe at one size.
struct Figures {
    total: Vec<Duration>,
    built: Vec<Duration>,
    envoy_applied_last: Vec<Duration>,
    /// Requests sent while changes were in flight, and those not answered 200 (a route
    /// naming a cluster Envoy does not use yet answers 503).
    requests: usize,
    failed: usize,
}

impl Figures {
    fn row(mut self, n: usize) -> String {
        self.total.sort();
        self.built.sort();
        self.envoy_applied_last.sort();
        format!(
            "| {n} | {} | {} | {} | {} | {} | {} | {} | {} of {} |",
            self.total.len(),
            ms(percentile(&self.total, 0.5)),
            ms(percentile(&self.total, 0.9)),
            ms(percentile(&self.total, 0.99)),
            ms(self.total.first().copied().unwrap_or_default()),
            ms(percentile(&self.built, 0.5)),
            ms(percentile(&self.envoy_applied_last, 0.5)),
            self.failed,
            self.requests,
        )
    }
}

/// Polls Sesame's `sesame_dagrebuild_timestamp` every 10 ms (builds are at least 100 ms apart
/// in a burst) and keeps every distinct value, until dropped.
struct BuildLog {
    builds: Arc<std::sync::Mutex<Vec<f64>>>,
    stop: Arc<AtomicBool>,
}

impl BuildLog {
    fn start(metrics: u16) -> BuildLog {
        let builds = Arc::new(std::sync::Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (b, s) = (builds.clone(), stop.clone());
        tokio::spawn(async move {
            while !s.load(Ordering::Relaxed) {
                let t = last_build_ms(metrics).await;
                if let Ok(mut b) = b.lock()
                    && t.is_finite()
                    && b.last() != Some(&t)
                {
                    b.push(t);
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
        BuildLog { builds, stop }
    }

    /// The first build that ended at or after `wall_ms`.
    fn first_after(&self, wall_ms: f64) -> Option<f64> {
        let builds = self.builds.lock().ok()?;
        builds
            .iter()
            .copied()
            .filter(|&b| b >= wall_ms)
            .reduce(f64::min)
    }
}

impl Drop for BuildLog {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn probe_target(k: usize) -> String {
    format!("probe-{}", k % BACKENDS)
}

/// The index of the latest change at or before `latest` that routes to `backend`.
fn change_of(backend: &str, latest: usize) -> Option<usize> {
    let b: usize = backend.strip_prefix("probe-")?.parse().ok()?;
    latest.checked_sub((latest + BACKENDS - b) % BACKENDS)
}

/// Runs `samples` changes of kind `probe`, the first numbered `first`; returns the figures and
/// the number of the next change.
async fn run_probe(
    cluster: &harness::Cluster,
    probe: &Probe,
    samples: usize,
    mut next: usize,
) -> (Figures, usize) {
    let mut figures = Figures {
        total: Vec::new(),
        built: Vec::new(),
        envoy_applied_last: Vec::new(),
        requests: 0,
        failed: 0,
    };
    let log = BuildLog::start(cluster.ports.metrics);
    let mut client = KeepAlive::new(cluster.ports.http);
    while figures.total.len() < samples {
        tokio::time::sleep(QUIET).await;
        let burst = probe.burst.min(samples - figures.total.len());
        let first = next;
        let mut writes: Vec<(Instant, f64)> = Vec::with_capacity(burst);
        let mut arrived: Vec<Option<Instant>> = vec![None; burst];
        let t0 = Instant::now();
        let deadline = t0 + Duration::from_secs(60);
        loop {
            if writes.len() < burst {
                let due = t0 + probe.spacing * writes.len() as u32;
                if Instant::now() >= due {
                    let k = first + writes.len();
                    writes.push((Instant::now(), unix_ms()));
                    cluster.write(
                        "probe.yaml",
                        &fixtures::probe_ingress("default", &probe_target(k), "/"),
                    );
                    continue;
                }
            } else if arrived.iter().all(Option::is_some) {
                break;
            }
            let reply = client.get("probe.bench.example.com").await;
            let at = Instant::now();
            figures.requests += 1;
            if !matches!(reply, Ok((200, _))) {
                figures.failed += 1;
            }
            if let (Ok((200, Some(backend))), Some(latest)) =
                (reply, (first + writes.len()).checked_sub(1))
                && let Some(seen) = change_of(&backend, latest)
            {
                for (i, slot) in arrived.iter_mut().enumerate().take(writes.len()) {
                    if first + i <= seen && slot.is_none() {
                        *slot = Some(at);
                    }
                }
            }
            assert!(
                Instant::now() < deadline,
                "changes {first}..{} never all arrived\n{}",
                first + burst,
                cluster.logs()
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        next = first + burst;
        // Envoy's stat holds only its latest update: it dates the burst's last change.
        let applied = envoy_rds_applied_ms(cluster.ports.admin).await;
        let last_build = last_build_ms(cluster.ports.metrics).await;
        if let Some(&(_, wall)) = writes.last() {
            figures.envoy_applied_last.push(since(wall, applied));
        }
        for (&(written, wall), at) in writes.iter().zip(&arrived) {
            figures
                .total
                .push(at.map_or(Duration::MAX, |a| a.duration_since(written)));
            let built = log.first_after(wall).unwrap_or(last_build);
            figures.built.push(since(wall, built));
        }
    }
    (figures, next)
}

/// Both latency probes at one size: (isolated row, burst row).
async fn latency(n: usize, samples: usize) -> (String, String) {
    let mut backends = Vec::with_capacity(BACKENDS);
    for i in 0..BACKENDS {
        backends.push(harness::backend(&probe_target(i)).await);
    }
    let names: Vec<String> = (0..BACKENDS).map(probe_target).collect();
    let pairs: Vec<(&str, &harness::Backend)> =
        names.iter().map(String::as_str).zip(&backends).collect();
    let services = harness::services(&pairs);
    let fixtures = fixtures::manifest(0..n, 8080);
    let probe = fixtures::probe_ingress("default", &probe_target(0), "/");
    let mut cluster = harness::Cluster::sesame_only(
        &[
            ("fixtures.json", &fixtures),
            ("probe-svc.yaml", &services),
            ("probe.yaml", &probe),
        ],
        &[],
    );
    spawn_envoy(&mut cluster);
    let mut client = KeepAlive::new(cluster.ports.http);
    let deadline = Instant::now() + STARTUP_PATIENCE;
    while !client
        .routes("probe.bench.example.com", &probe_target(0))
        .await
    {
        assert!(
            Instant::now() < deadline,
            "the probe never routed\n{}",
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let isolated = Probe {
        burst: 1,
        spacing: Duration::ZERO,
    };
    let (figures, next) = run_probe(&cluster, &isolated, samples, 1).await;
    let isolated_row = figures.row(n);
    eprintln!("isolated {n}: {isolated_row}");
    let burst = Probe {
        burst: 10,
        spacing: Duration::from_millis(50),
    };
    let (figures, _) = run_probe(&cluster, &burst, samples, next).await;
    let burst_row = figures.row(n);
    eprintln!("burst {n}: {burst_row}");
    (isolated_row, burst_row)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `cargo bench` passes `--bench`; nothing else is accepted.
    let mode = std::env::var("SESAME_BENCH_XDS_MODE").unwrap_or_else(|_| "(default)".into());
    println!("xDS mode (`sesame bootstrap --xds-mode`): {mode}\n");
    let rss_sizes = sizes("SESAME_BENCH_RSS_SIZES", &[0, 1_000, 10_000]);
    if !rss_sizes.is_empty() {
        println!("### Start → last host routing through Envoy, and Sesame's memory\n");
        println!(
            "| N Ingresses (+ N Services, N EndpointSlices) | start → Sesame built | start → last of 100 sampled hosts routing | hosts routing afterwards | Sesame peak RSS (VmHWM) | Sesame RSS after | Envoy RSS |"
        );
        println!("|---:|---:|---:|---:|---:|---:|---:|");
        for n in rss_sizes {
            println!("{}", startup(n).await);
        }
    }
    let samples = std::env::var("SESAME_BENCH_LATENCY_SAMPLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(40);
    let mut isolated = Vec::new();
    let mut bursts = Vec::new();
    for n in sizes("SESAME_BENCH_LATENCY_SIZES", &[2, 1_000]) {
        let (i, b) = latency(n, samples).await;
        isolated.push(i);
        bursts.push(b);
    }
    let header = "| N Ingresses | changes | p50 | p90 | p99 | min | write → Sesame built (p50) | write → Envoy applied RDS (p50, last change of each burst) | requests not answered 200 |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|";
    for (title, rows) in [
        (
            "Isolated changes (0.7 s apart): write → Envoy routing the new backend",
            isolated,
        ),
        (
            "Bursts of 10 changes 50 ms apart (0.7 s between bursts): write → Envoy routing the new backend",
            bursts,
        ),
    ] {
        if rows.is_empty() {
            continue;
        }
        println!("\n### {title}\n\n{header}");
        for row in rows {
            println!("{row}");
        }
    }
}
