// The turn pipeline allocates many small, short-lived objects across threads; mimalloc's
// thread-local free lists measured clearly faster than glibc's allocator here (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    switchboard::cli::main()
}
