//! What the tool needs from the operating system: enough file descriptors for its connections,
//! and the resident memory and CPU time of the server under test (and its own CPU time).

use std::collections::HashMap;

use anyhow::{bail, Context};
use rlimit::Resource;

/// Descriptors kept for everything that is not a subscriber connection.
const SPARE_DESCRIPTORS: u64 = 256;

/// Raises this process's open-file limit so `connections` sockets fit, raising the hard limit too
/// when allowed (root); fails with the numbers when it cannot. Returns the soft limit in force.
pub fn ensure_descriptors(connections: u64) -> anyhow::Result<u64> {
    let needed = connections + SPARE_DESCRIPTORS;
    let (soft, hard) = Resource::NOFILE.get().context("reading RLIMIT_NOFILE")?;
    if soft >= needed {
        return Ok(soft);
    }
    if hard >= needed {
        Resource::NOFILE.set(hard, hard).context("raising RLIMIT_NOFILE to its hard limit")?;
        return Ok(hard);
    }
    if Resource::NOFILE.set(needed, needed).is_err() {
        bail!(
            "{connections} connections need {needed} file descriptors but the hard limit is {hard} and cannot be \
             raised by this user: raise it (ulimit -Hn, as root) or use fewer subscribers"
        );
    }
    Ok(needed)
}

/// The resident memory in KiB of process `pid` and all its descendants (nginx's master and
/// workers, or one server process), from `/proc/*/status` `VmRSS`.
pub fn tree_rss_kib(pid: u32) -> anyhow::Result<u64> {
    let mut total = rss_kib(pid).with_context(|| format!("reading the memory of process {pid}"))?;
    let children = children_by_parent()?;
    let mut pending = children.get(&pid).cloned().unwrap_or_default();
    while let Some(child) = pending.pop() {
        total += rss_kib(child).unwrap_or(0);
        pending.extend(children.get(&child).into_iter().flatten());
    }
    Ok(total)
}

/// Every process's children, from the parent pids in `/proc/*/stat`.
fn children_by_parent() -> anyhow::Result<HashMap<u32, Vec<u32>>> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for entry in std::fs::read_dir("/proc").context("listing /proc")?.flatten() {
        let Some(child) = entry.file_name().to_str().and_then(|name| name.parse::<u32>().ok()) else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else { continue };
        if let Some(parent) = parent_of(&stat) {
            children.entry(parent).or_default().push(child);
        }
    }
    Ok(children)
}

/// Clock ticks per second of `/proc/*/stat` times (`USER_HZ`, 100 on every Linux port in use).
const TICKS_PER_SEC: f64 = 100.0;

/// CPU time (user + system) in seconds used so far by process `pid` and its descendants.
pub fn tree_cpu_secs(pid: u32) -> anyhow::Result<f64> {
    let mut total = cpu_secs(pid).with_context(|| format!("reading the CPU time of process {pid}"))?;
    let children = children_by_parent()?;
    let mut pending = children.get(&pid).cloned().unwrap_or_default();
    while let Some(child) = pending.pop() {
        total += cpu_secs(child).unwrap_or(0.0);
        pending.extend(children.get(&child).into_iter().flatten());
    }
    Ok(total)
}

/// CPU time (user + system) in seconds used so far by this process.
pub fn own_cpu_secs() -> anyhow::Result<f64> {
    cpu_secs(std::process::id())
}

fn cpu_secs(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    cpu_ticks_of(&stat).map(|ticks| ticks as f64 / TICKS_PER_SEC).context("bad /proc stat")
}

/// `utime + stime` (fields 14 and 15) of a `/proc/PID/stat` text, in clock ticks.
fn cpu_ticks_of(stat: &str) -> Option<u64> {
    let mut fields = stat[stat.rfind(')')? + 1..].split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(user + system)
}

/// `VmRSS` of one process in KiB (0 for a process without memory of its own).
fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    Ok(vm_rss_of(&status).unwrap_or(0))
}

/// The `VmRSS:` line of a `/proc/PID/status` text, in KiB.
fn vm_rss_of(status: &str) -> Option<u64> {
    let line = status.lines().find_map(|line| line.strip_prefix("VmRSS:"))?;
    line.split_whitespace().next()?.parse().ok()
}

/// The parent pid in a `/proc/PID/stat` text (the command may hold spaces and parentheses).
fn parent_of(stat: &str) -> Option<u32> {
    let after_command = &stat[stat.rfind(')')? + 1..];
    after_command.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_texts_give_rss_and_parent() {
        assert_eq!(vm_rss_of("Name:\tnginx\nVmPeak:\t 1000 kB\nVmRSS:\t   5120 kB\n"), Some(5120));
        assert_eq!(vm_rss_of("Name:\tkthreadd\n"), None);
        let stat = "4242 (nginx: worker (x)) S 4241 4241 0 0 -1 4194560 100 0 0 0 250 30 0 0 20 0 1 0";
        assert_eq!(parent_of(stat), Some(4241));
        assert_eq!(cpu_ticks_of(stat), Some(280));
    }

    #[test]
    fn this_process_has_resident_memory_and_a_cpu_time() {
        assert!(tree_rss_kib(std::process::id()).unwrap() > 0);
        assert!(tree_cpu_secs(std::process::id()).unwrap() >= 0.0);
        assert!(own_cpu_secs().unwrap() >= 0.0);
    }
}
