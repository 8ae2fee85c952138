//! The `tianjian` command, built inside this crate so the end-to-end tests can start it as a
//! process of its own: Cargo hands integration tests the paths of their own crate's binaries
//! only.

fn main() -> std::process::ExitCode {
    tianjian_server::cli::main()
}
