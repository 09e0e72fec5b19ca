//! A CPU quota for the cold-path run (issue 25 §5): Lambda gives a function
//! CPU in proportion to its memory, one vCPU at 1,769 MB, so a 256 MB
//! function gets about 14.5 % of one. The bench runs each binary inside a
//! cgroup whose CFS quota is that share (cgroup v1 `cpu.cfs_quota_us`, or
//! v2 `cpu.max`), entered by a shell that then `exec`s the binary, so init
//! is limited from its first instruction.

use std::path::{Path, PathBuf};

/// Lambda's memory per vCPU, MB.
pub const MB_PER_VCPU: f64 = 1769.0;
const PERIOD_US: u64 = 100_000;

pub struct CpuLimit {
    dir: PathBuf,
    /// The share of one CPU, 0–1.
    pub share: f64,
    /// How it is enforced, for the report.
    pub how: String,
}

impl CpuLimit {
    /// A cgroup named `name` limited to `share` of one CPU; an error when
    /// this machine lets us create none (no cgroup file system, no rights).
    pub fn create(name: &str, share: f64) -> Result<Self, String> {
        let quota = ((share * PERIOD_US as f64).round() as u64).max(1_000);
        let v1 = Path::new("/sys/fs/cgroup/cpu");
        let v2 = Path::new("/sys/fs/cgroup");
        let write = |p: PathBuf, v: String| {
            std::fs::write(&p, v).map_err(|e| format!("{}: {e}", p.display()))
        };
        if v1.join("cpu.cfs_quota_us").exists() {
            let dir = v1.join(name);
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            write(dir.join("cpu.cfs_period_us"), PERIOD_US.to_string())?;
            write(dir.join("cpu.cfs_quota_us"), quota.to_string())?;
            let how = format!(
                "cgroup v1 `cpu` controller: cpu.cfs_quota_us = {quota} per cpu.cfs_period_us = {PERIOD_US}"
            );
            return Ok(Self { dir, share, how });
        }
        if v2.join("cgroup.controllers").exists() {
            let dir = v2.join(name);
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            write(dir.join("cpu.max"), format!("{quota} {PERIOD_US}"))?;
            let how = format!("cgroup v2: cpu.max = \"{quota} {PERIOD_US}\"");
            return Ok(Self { dir, share, how });
        }
        Err("no cgroup cpu controller on this machine".into())
    }

    /// The program and arguments that run `binary` inside the group.
    pub fn wrap(&self, binary: &Path) -> (PathBuf, Vec<String>) {
        let procs = self.dir.join("cgroup.procs");
        (
            PathBuf::from("/bin/sh"),
            vec![
                "-c".into(),
                format!("echo $$ > '{}' && exec \"$0\"", procs.display()),
                binary.display().to_string(),
            ],
        )
    }
}

impl Drop for CpuLimit {
    fn drop(&mut self) {
        // Empty once its processes are gone.
        let _ = std::fs::remove_dir(&self.dir);
    }
}
