//! What the benches share: the machine they ran on, the other processes' share of the CPU, and
//! writing their section of BENCHMARKS.md.
#![allow(dead_code, reason = "each bench uses part of the support code")]

use std::path::Path;
use time::OffsetDateTime;

pub struct Machine {
    pub cpus: String,
    pub model: String,
    pub date: String,
}

pub fn machine() -> Machine {
    let cpus = std::process::Command::new("nproc")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| {
            std::thread::available_parallelism().map_or("?".into(), |n| n.to_string())
        });
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    Machine {
        cpus,
        model,
        date: OffsetDateTime::now_utc().date().to_string(),
    }
}

/// Clock ticks from /proc: all CPUs busy, all CPUs in total, and this process.
#[derive(Clone, Copy)]
pub struct CpuTimes {
    busy: u64,
    total: u64,
    own: u64,
}

impl CpuTimes {
    pub fn now() -> Option<CpuTimes> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let ticks: Vec<u64> = stat
            .lines()
            .next()?
            .split_whitespace()
            .skip(1)
            .take(8) // user nice system idle iowait irq softirq steal
            .map(|t| t.parse().ok())
            .collect::<Option<_>>()?;
        let own_stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // After the parenthesised name: field 3 (state) onwards; utime and stime are 14 and 15.
        let fields: Vec<&str> = own_stat.rsplit_once(')')?.1.split_whitespace().collect();
        let own = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        Some(CpuTimes {
            busy: ticks.iter().sum::<u64>() - ticks.get(3)? - ticks.get(4)?,
            total: ticks.iter().sum(),
            own,
        })
    }

    pub fn others_share(&self, later: &CpuTimes) -> f64 {
        let busy = later.busy.saturating_sub(self.busy);
        let own = later.own.saturating_sub(self.own);
        let total = later.total.saturating_sub(self.total).max(1);
        busy.saturating_sub(own) as f64 / total as f64
    }
}

pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Replaces this bench's section (between `start` and `end`) of the file at `path`, or appends
/// it; creates the file when missing. The file is read right before writing: other benches
/// write their own sections.
pub fn write_section(path: &Path, start: &str, end: &str, section: &str) {
    let existing = std::fs::read_to_string(path).unwrap_or_else(|_| {
        "# Benchmarks\n\nEvery figure is produced by the command next to it, on the machine \
         described beside it (CPUs from `nproc`, CPU model from /proc/cpuinfo, date).\n"
            .to_string()
    });
    let updated = match (existing.find(start), existing.find(end)) {
        (Some(at), Some(until)) if at < until => format!(
            "{}{section}{}",
            &existing[..at],
            &existing[until + end.len()..]
        ),
        _ => format!("{}\n\n{section}\n", existing.trim_end()),
    };
    std::fs::write(path, updated).expect("BENCHMARKS.md is writable");
}
