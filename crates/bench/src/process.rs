//! Server processes the harness starts (recoupd, the echo baseline) and what /proc says of them:
//! CPU time and resident memory. Each child is stopped by its own id when dropped.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What sqlx logs for a statement slower than its threshold (1 s).
const SLOW_STATEMENT: &str = "slow statement";
/// What recoupd prints, before it listens, when it serves metrics; the address follows.
const METRICS_ANNOUNCE: &str = "metrics listening on";

/// A server process started by the harness.
pub struct Server {
    child: Child,
    /// The address it listens on (from its "listening on" line).
    pub addr: String,
    /// Where it serves Prometheus metrics, if it announced it (`metrics listening on ADDR`).
    pub metrics: Option<String>,
    /// "slow statement" warnings it has logged so far.
    slow: Arc<AtomicU64>,
}

impl Server {
    /// Runs this executable with `args` and waits (at most 60 s) for the line
    /// `<announce> ADDR` on its standard output.
    pub fn spawn(args: &[String], announce: &str) -> Result<Server, String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut child = Command::new(exe)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env(
                "RECOUP_LOG",
                std::env::var("RECOUP_BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .spawn()
            .map_err(|e| format!("cannot start {args:?}: {e}"))?;
        let stdout = child.stdout.take().expect("piped stdout");
        // Its log passes through to ours, counting slow statements on the way.
        let stderr = child.stderr.take().expect("piped stderr");
        let slow = Arc::new(AtomicU64::new(0));
        let counted = slow.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains(SLOW_STATEMENT) {
                    counted.fetch_add(1, Ordering::Relaxed);
                }
                eprintln!("{line}");
            }
        });
        let (tx, rx) = std::sync::mpsc::channel();
        let announce = announce.to_owned();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let mut metrics = None;
            let addr = lines.by_ref().map_while(Result::ok).find_map(|l| {
                if let Some(m) = l.strip_prefix(METRICS_ANNOUNCE) {
                    metrics = Some(m.trim().to_owned());
                }
                l.strip_prefix(&announce).map(|a| a.trim().to_owned())
            });
            let _ = tx.send(addr.map(|a| (a, metrics)));
            // Keep draining so the child never blocks on a full pipe.
            for _ in lines {}
        });
        let mut server = Server {
            child,
            addr: String::new(),
            metrics: None,
            slow,
        };
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(Some((addr, metrics))) => {
                server.addr = addr;
                server.metrics = metrics;
                Ok(server)
            }
            _ => Err(format!("{args:?} did not start listening")),
        }
    }

    /// "slow statement" warnings the server has logged so far.
    pub fn slow_statements(&self) -> u64 {
        self.slow.load(Ordering::Relaxed)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stats(&self) -> ServerStats {
        ServerStats { pid: self.pid() }
    }

    /// SIGTERM, then a kill if it has not exited within 20 s.
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Reads a process's counters from /proc (Linux); None elsewhere.
#[derive(Debug, Clone, Copy)]
pub struct ServerStats {
    pid: u32,
}

impl ServerStats {
    /// The counters of process `pid`.
    pub fn of(pid: u32) -> ServerStats {
        ServerStats { pid }
    }

    /// User + system CPU seconds used so far.
    pub fn cpu_seconds(&self) -> Option<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).ok()?;
        // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
        let rest = stat.rsplit_once(')')?.1;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let utime: f64 = fields.get(11)?.parse().ok()?;
        let stime: f64 = fields.get(12)?.parse().ok()?;
        Some((utime + stime) / clock_ticks())
    }

    /// (resident, peak resident) memory in MiB.
    pub fn memory_mib(&self) -> Option<(f64, f64)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        let kib = |key: &str| -> Option<f64> {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        };
        Some((kib("VmRSS:")? / 1024.0, kib("VmHWM:")? / 1024.0))
    }
}

/// Clock ticks per second of /proc's CPU times (USER_HZ: 100 on Linux).
fn clock_ticks() -> f64 {
    100.0
}
