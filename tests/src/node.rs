//! Node.js for the interoperability tests, the browser tests and the benchmarks: the scripts in
//! `tests/js/`, with their packages pinned in `package-lock.json`.
//!
//! Node 20+ and npm are required: without them the tests that use them fail, they do not
//! skip. The packages are installed the first time.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(30);
const NPM_LIMIT: Duration = Duration::from_secs(300);

/// Where the Node scripts and their `package.json` live.
pub fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("js")
}

/// How a child process ended.
#[derive(Debug)]
pub struct Run {
    /// `None` if it was killed for taking longer than its limit.
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.status {
            Some(code) => writeln!(f, "exit status {code}")?,
            None => writeln!(f, "killed: still running after its time limit")?,
        }
        write!(
            f,
            "--- stdout ---\n{}--- stderr ---\n{}",
            self.stdout, self.stderr
        )
    }
}

/// Runs a command to completion, or kills it after `limit`. Blocking: from async code, call
/// it on a blocking thread.
pub fn run_blocking(mut command: Command, limit: Duration) -> Run {
    let program = command.get_program().to_string_lossy().into_owned();
    let mut child = match command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => panic!(
            "`{program}` is not installed or not on PATH: the JavaScript interoperability tests \
             need Node.js 20+ and npm"
        ),
        Err(error) => panic!("cannot start `{program}`: {error}"),
    };
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut pipe) = pipe {
                let mut bytes = Vec::new();
                let _ = pipe.read_to_end(&mut bytes);
                text = String::from_utf8_lossy(&bytes).into_owned();
            }
            text
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status.code().unwrap_or(-1)),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) | Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    Run {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

/// Checks Node and installs the pinned packages once per checkout, whichever test process
/// comes first.
pub fn prepare_node() {
    static PREPARED: Mutex<bool> = Mutex::new(false);
    let mut prepared = PREPARED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if *prepared {
        return;
    }
    let mut version = Command::new("node");
    version.arg("--version");
    let run = run_blocking(version, LIMIT);
    let major = run
        .stdout
        .trim()
        .strip_prefix('v')
        .and_then(|v| v.split('.').next())
        .and_then(|major| major.parse::<u32>().ok());
    assert!(
        run.status == Some(0) && major.is_some_and(|major| major >= 20),
        "the JavaScript interoperability tests need Node.js 20+; `node --version` gave:\n{run}"
    );

    let dir = js_dir();
    // Test processes run side by side: one installs while the others wait for it, rather than
    // run scripts against a half-written node_modules.
    let lock = std::fs::File::create(dir.join(".npm-install.lock"))
        .unwrap_or_else(|e| panic!("cannot make tests/js/.npm-install.lock: {e}"));
    lock.lock()
        .unwrap_or_else(|e| panic!("cannot lock tests/js/.npm-install.lock: {e}"));
    let installed = [
        "automerge-repo",
        "automerge-repo-network-websocket",
        "automerge-repo-storage-nodefs",
    ]
    .iter()
    .all(|package| {
        dir.join("node_modules/@automerge")
            .join(package)
            .join("package.json")
            .is_file()
    }) && ["tus-js-client", "playwright-core"].iter().all(|package| {
        dir.join("node_modules")
            .join(package)
            .join("package.json")
            .is_file()
    });
    if !installed {
        // Not `npm ci`: it refuses a lock file that lacks cbor-extract's optional platform
        // packages (@cbor-extract/*), and a lock made against a registry mirror without them
        // lacks them. `npm install` installs the locked versions just the same, and with
        // `--no-save` never rewrites the lock.
        let mut npm = Command::new("npm");
        npm.arg("install");
        if dir.join("package-lock.json").is_file() {
            npm.arg("--no-save");
        }
        npm.args(["--no-audit", "--no-fund"]).current_dir(&dir);
        let run = run_blocking(npm, NPM_LIMIT);
        assert_eq!(
            run.status,
            Some(0),
            "installing tests/js's packages with npm failed:\n{run}"
        );
    }
    *prepared = true;
}
