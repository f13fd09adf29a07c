//! Starts the local AWS endpoint (moto's server, pinned in infra/local/requirements.txt and
//! installed in the repo's venv) as a child process that dies with its parent.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub struct Emulator {
    pub endpoint: String,
    /// The emulator's process id (tests freeze it with SIGSTOP to play a hung dependency).
    pub pid: Option<u32>,
    /// Held so that the emulator's stdin stays open; it exits when this is dropped.
    _child: Child,
}

/// The repo's venv python, or `SMARTPIT_PYTHON`.
pub fn python(repo: &Path) -> PathBuf {
    std::env::var_os("SMARTPIT_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo.join(".venv/bin/python"))
}

/// Starts the emulator on `port` (0: any free port) and waits until it listens. Its request
/// log goes to `log` (request lines only, no bodies), or nowhere.
pub async fn start(repo: &Path, port: u16, log: Option<&Path>) -> Result<Emulator, String> {
    let python = python(repo);
    let script = repo.join("infra/local/emulator.py");
    let mut child = Command::new(&python)
        .arg(&script)
        .arg(port.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(match log {
            // Appended to, never truncated: a log is kept across starts.
            Some(path) => std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map(Stdio::from)
                .map_err(|e| format!("{}: {e}", path.display()))?,
            None => Stdio::null(),
        })
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            format!(
                "cannot start {} {}: {e} (run `make venv`)",
                python.display(),
                script.display()
            )
        })?;
    let stdout = child.stdout.take().ok_or("emulator has no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let first = tokio::time::timeout(std::time::Duration::from_secs(60), lines.next_line())
        .await
        .map_err(|_| "emulator did not start within 60 s".to_string())?
        .map_err(|e| e.to_string())?
        .ok_or_else(|| {
            let tail = log
                .and_then(|p| std::fs::read_to_string(p).ok())
                .map(|t| {
                    let lines: Vec<&str> = t.lines().collect();
                    lines[lines.len().saturating_sub(5)..].join("\n")
                })
                .unwrap_or_default();
            format!("the emulator exited before it was ready; its last words:\n{tail}")
        })?;
    let port = first
        .strip_prefix("ready ")
        .and_then(|p| p.trim().parse::<u16>().ok())
        .ok_or_else(|| format!("unexpected emulator output: {first}"))?;
    // Keep draining stdout so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok(Emulator {
        endpoint: format!("http://127.0.0.1:{port}"),
        pid: child.id(),
        _child: child,
    })
}
