//! A long-running child process of the test (etcd, kube-apiserver, a backend), killed when
//! dropped, with its standard error in a log file for failure messages.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// How many trailing lines of a log a failure message shows.
const LOG_TAIL: usize = 60;

/// A child process killed (SIGKILL) and reaped when dropped.
pub struct Daemon {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Daemon {
    /// Starts `command` with standard output discarded and standard error in `log`.
    pub fn spawn(name: &str, command: &mut Command, log: PathBuf) -> Daemon {
        let file = std::fs::File::create(&log).expect("daemon log file");
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({command:?}): {e}"));
        Daemon {
            name: name.to_string(),
            child,
            log,
        }
    }

    /// The last lines of the process's standard error, headed by its name.
    pub fn log(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(LOG_TAIL)..].join("\n");
        format!("--- {} (last {LOG_TAIL} lines) ---\n{tail}", self.name)
    }

    /// Panics with the log if the process has exited.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited ({status})\n{}", self.name, self.log());
        }
    }

    /// Kills the process at once (no clean shutdown, as a crash would) and waits for it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}
