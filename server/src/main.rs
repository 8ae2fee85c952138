//! The `tianjian` command: see [`tianjian_server::cli`].

fn main() -> std::process::ExitCode {
    tianjian_server::cli::main()
}
