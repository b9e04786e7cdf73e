#!/usr/bin/env bash
# Runs one fuzz target under libFuzzer (cargo fuzz on the stable toolchain, no sanitizer) for a
# time budget, with the seeds made from fixtures/ as its starting corpus. See fuzz/README.md.
#
#   fuzz/run.sh TARGET [SECONDS] [more libFuzzer options...]
#
# Environment: FUZZ_MAX_LEN (default 32768), FUZZ_RSS_MB (default 2048), FUZZ_VMEM_KB (the
# `ulimit -v` cap, default 16 GiB: the analysis threads reserve 1 GiB stacks), FUZZ_NICE
# (default 10).
set -euo pipefail
cd "$(dirname "$0")/.."

target=${1:?usage: fuzz/run.sh TARGET [SECONDS] [libFuzzer options...]}
seconds=${2:-600}
shift
[ $# -gt 0 ] && shift

corpus=fuzz/corpus/$target
if [ -z "$(ls -A "$corpus" 2>/dev/null)" ]; then
    # The seeds live in code (interlock::fuzz::seeds): nothing is copied from fixtures/ into git.
    INTERLOCK_FUZZ_WRITE_SEEDS="$PWD/fuzz/corpus" cargo test --quiet --test fuzz write_seeds -- --nocapture
fi

ulimit -v "${FUZZ_VMEM_KB:-16777216}"
exec nice -n "${FUZZ_NICE:-10}" cargo fuzz run --sanitizer none "$target" "$corpus" -- \
    -max_total_time="$seconds" \
    -max_len="${FUZZ_MAX_LEN:-32768}" \
    -rss_limit_mb="${FUZZ_RSS_MB:-2048}" \
    -timeout=10 \
    -print_final_stats=1 \
    "$@"
