//! A sync server running as a process of its own: ours (the `tianjian` command) or the
//! automerge-repo Node server, started on port 0, killed when dropped.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

/// A running server process.
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    pub addr: SocketAddr,
}

/// Why a server process did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot start the server: {0}")]
    Spawn(#[from] std::io::Error),
    #[error("the server's first line was {0:?}, not `listening on ADDRESS`")]
    Greeting(String),
}

impl ServerProcess {
    /// Our server, the `tianjian` command at `program`, serving `data` on a free loopback port
    /// with the test signing key. (Only tests and benchmarks know where the command was built,
    /// so they pass it: `env!("CARGO_BIN_EXE_tianjian-under-test")`.)
    pub fn tianjian(program: &std::path::Path, data: &std::path::Path) -> ServerProcess {
        ServerProcess::tianjian_with(program, data, &[("TIANJIAN__LOG__LEVEL", "warn")], None)
    }

    /// The same, with more of the configuration in the environment (`TIANJIAN__…`), and its
    /// log written to `log` if given.
    pub fn tianjian_with(
        program: &std::path::Path,
        data: &std::path::Path,
        env: &[(&str, &str)],
        log: Option<std::fs::File>,
    ) -> ServerProcess {
        let mut command = Command::new(program);
        command
            .arg("--data")
            .arg(data)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env(
                "TIANJIAN__AUTH__SECRET",
                String::from_utf8_lossy(crate::fixture::SECRET).as_ref(),
            )
            .envs(env.iter().copied());
        if let Some(log) = log {
            command.stderr(log);
        }
        match ServerProcess::start(command) {
            Ok(server) => server,
            Err(error) => panic!("cannot start {}: {error}", program.display()),
        }
    }

    /// Starts `command`, which must print `listening on ADDRESS` as its first line on
    /// stdout once it accepts connections.
    pub fn start(mut command: Command) -> Result<ServerProcess, StartError> {
        let mut child = command.stdout(Stdio::piped()).spawn()?;
        let mut line = String::new();
        if let Some(stdout) = child.stdout.take() {
            BufReader::new(stdout).read_line(&mut line)?;
        }
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .and_then(|addr| addr.parse().ok());
        match addr {
            Some(addr) => Ok(ServerProcess { child, addr }),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                Err(StartError::Greeting(line))
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The most memory the process has held so far (its peak resident set), in KiB, as
    /// Linux reports it; `None` elsewhere.
    pub fn peak_memory_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// SIGTERM, as a service manager stops a service: the server shuts down gracefully.
    pub fn terminate(&self) -> std::io::Result<()> {
        let pid = i32::try_from(self.pid())
            .ok()
            .and_then(rustix::process::Pid::from_raw)
            .ok_or_else(|| std::io::Error::other("no such process id"))?;
        rustix::process::kill_process(pid, rustix::process::Signal::TERM)?;
        Ok(())
    }

    /// Waits up to `limit` for the process to exit; its status if it did.
    pub fn wait_exit(&mut self, limit: std::time::Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + limit;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        None
    }

    /// SIGKILL: no shutdown, no flush, nothing.
    pub fn kill(mut self) -> std::io::Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
