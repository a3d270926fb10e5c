#!/usr/bin/env bash
# Size of the Lambda deployment (issue 7): builds the stripped, LTO release binary for
# aarch64 (Graviton, the template's `Architectures: [arm64]`) with cargo-lambda, as
# `sam build` does (BuildMethod rust-cargolambda), and reports the binary and zip sizes.
#
#   bench/lambda-size.sh [BIN]        # BIN defaults to esm-guard-lambda
#
# - Release profile of Cargo.toml: lto = true, codegen-units = 1, strip = true.
# - cargo-lambda comes from the project venv (scripts/setup); it cross-links with zig from
#   the PyPI package `ziglang`, a dependency of cargo-lambda pinned in scripts/requirements.lock.
# - The aarch64-unknown-linux-gnu Rust target is added with rustup if missing.
# - The first build compiles the AWS SDK for aarch64 with full LTO: 10+ minutes on 2 cores.
#
# Output: target/lambda/BIN/bootstrap.zip (what is uploaded) and the binary
# target/aarch64-unknown-linux-gnu/release/BIN; the sizes go to stdout.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bin="${1:-esm-guard-lambda}"
target=aarch64-unknown-linux-gnu

scripts/setup
export PATH="$root/.venv/bin:$PATH"   # cargo-lambda; python3 -m ziglang for zig
if ! command -v zig >/dev/null 2>&1 && ! python3 -c 'import ziglang' 2>/dev/null; then
    echo "lambda-size: zig is missing from .venv (ziglang is in scripts/requirements.lock): run scripts/setup" >&2
    exit 2
fi
if ! rustup target list --installed | grep -qx "$target"; then
    echo "lambda-size: adding the Rust target $target" >&2
    rustup target add "$target" >&2
fi

bins="$(cargo metadata --no-deps --format-version 1 |
    python3 -c 'import json,sys; print("\n".join(t["name"] for p in json.load(sys.stdin)["packages"] for t in p["targets"] if "bin" in t["kind"]))')"
if ! grep -qx "$bin" <<<"$bins"; then
    echo "lambda-size: '$bin' is not a binary of this crate; the binaries are: $(echo $bins)" >&2
    exit 2
fi

echo "lambda-size: cargo lambda build --release --arm64 --bin $bin --output-format zip" >&2
start=$SECONDS
cargo lambda build --release --arm64 --bin "$bin" --output-format zip >&2
elapsed=$((SECONDS - start))

binary="target/$target/release/$bin"
zip="target/lambda/$bin/bootstrap.zip"
[ -f "$binary" ] || { echo "lambda-size: missing $binary" >&2; exit 1; }
[ -f "$zip" ] || { echo "lambda-size: missing $zip" >&2; exit 1; }
size() { stat -c %s "$1"; }
mib() { python3 -c "print(f'{$1 / 1048576:.2f}')"; }
echo "binary: $bin ($target, release: lto, codegen-units=1, strip; built in ${elapsed}s)"
echo "  $binary: $(size "$binary") bytes ($(mib "$(size "$binary")") MiB)"
if command -v file >/dev/null 2>&1; then echo "  file: $(file -b "$binary")"; fi
echo "  $zip: $(size "$zip") bytes ($(mib "$(size "$zip")") MiB)"
