//! A sync server running as a process of its own: ours (the `tianjian` command) or the
//! automerge-repo Node server, started on port 0, killed when dropped; and what a process has
//! cost in CPU time, as Linux counts it.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// The builds of our server a benchmark runs: the one under test (`--server PATH`, else the
/// benchmark's own build) and, with `--before PATH`, a baseline run first with the same phones.
#[derive(Debug, Default, Clone)]
pub struct Builds {
    pub server: Option<PathBuf>,
    pub before: Option<PathBuf>,
}

impl Builds {
    /// Takes `--server PATH` or `--before PATH` if `arg` is one; says whether it was.
    pub fn take(&mut self, arg: &str, args: &mut impl Iterator<Item = String>) -> bool {
        let slot = match arg {
            "--server" => &mut self.server,
            "--before" => &mut self.before,
            _ => return false,
        };
        *slot = args.next().map(PathBuf::from);
        true
    }

    /// The build under test: the one `--server` names, or `own` (the benchmark's
    /// `CARGO_BIN_EXE_tianjian-under-test`, which only it can name).
    pub fn under_test(&self, own: &str) -> PathBuf {
        self.server.clone().unwrap_or_else(|| own.into())
    }

    /// Every build to run, the baseline first.
    pub fn in_order(&self, own: &str) -> Vec<PathBuf> {
        self.before
            .iter()
            .cloned()
            .chain([self.under_test(own)])
            .collect()
    }
}

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
        ServerProcess::tianjian_on(program, data, env, log, None)
    }

    /// The same, held to the CPUs `cores` names if given (see [`command_on`]).
    pub fn tianjian_on(
        program: &std::path::Path,
        data: &std::path::Path,
        env: &[(&str, &str)],
        log: Option<std::fs::File>,
        cores: Option<&str>,
    ) -> ServerProcess {
        let mut command = command_on(program, cores);
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

    /// The CPU time the process has used so far (user and system, all its threads, and its
    /// children it waited for); `None` where Linux's `/proc` is not.
    pub fn cpu_time(&self) -> Option<Duration> {
        cpu_time(self.pid())
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
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + limit;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
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

/// A command that runs `program`, held to the CPUs in `cores` if given: a list as
/// `taskset -c` takes it (`0`, `0,1`, `0-3`). `taskset` sets the affinity and then becomes
/// the program, so the child's process id is the program's own.
pub fn command_on(program: impl AsRef<OsStr>, cores: Option<&str>) -> Command {
    match cores {
        Some(cores) => {
            let mut command = Command::new("taskset");
            command.args(["-c", cores]).arg(program);
            command
        }
        None => Command::new(program),
    }
}

/// The CPU time process `pid` has used so far: user and system time of all its threads,
/// and of the children it waited for, from `/proc/<pid>/stat`; `None` if it is not there.
pub fn cpu_time(pid: u32) -> Option<Duration> {
    stat_cpu_time(&format!("/proc/{pid}/stat"))
}

/// The CPU time the calling thread has used so far, user and system.
pub fn thread_cpu_time() -> Option<Duration> {
    stat_cpu_time("/proc/thread-self/stat")
}

fn stat_cpu_time(path: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(path).ok()?;
    // The command's name (field 2) is in parentheses and may hold spaces and parentheses:
    // count from after the last `)`, where field 3 is.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // Fields 14 to 17: utime, stime, cutime and cstime, in clock ticks.
    let ticks = fields
        .get(11..15)?
        .iter()
        .map(|field| field.parse::<u64>().ok())
        .sum::<Option<u64>>()?;
    Some(Duration::from_secs_f64(ticks as f64 / clock_ticks() as f64))
}

/// Clock ticks a second, as `getconf CLK_TCK` says; 100, what Linux reports to programs
/// on every common architecture, if it cannot be asked.
fn clock_ticks() -> u64 {
    static TICKS: OnceLock<u64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok()?.trim().parse().ok())
            .filter(|ticks| *ticks > 0)
            .unwrap_or(100)
    })
}
