fn main() -> std::process::ExitCode {
    interlock::cli::run()
}
