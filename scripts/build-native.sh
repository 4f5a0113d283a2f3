#!/usr/bin/env bash
# Build labrys's optional native parts and install them into the project's venv: the
# search core (native/, Rust + PyO3) as the module `labrys_native`, next to the editable
# labrys, and the lazy file system of the `lose-unsynced` fault (native/lazyfs/, Rust +
# fuser) as the program `labrys-lazyfs` in the venv's bin/.
#
# - No cargo: print one line and exit 0; labrys then runs its pure-Python engine, and
#   refuses the lose-unsynced fault with a line saying how to get it.
# - Nothing changed since the last install (same sources, same toolchain, module still
#   importable): print one line and exit 0 without building.
# - Otherwise: pip-install ./native with maturin as the build backend (installed into the
#   venv once, so the build needs no network after that); cargo reuses native/target.
#
# Usage: scripts/build-native.sh            (VENV=path overrides .venv)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
PY="$VENV/bin/python"

if ! command -v cargo >/dev/null 2>&1; then
    echo "native core: skipped (no cargo on PATH); labrys will use its pure-Python engine"
    exit 0
fi
if [ ! -x "$PY" ]; then
    echo "native core: no venv at $VENV; run 'make setup' first" >&2
    exit 1
fi

stamp="$VENV/.native-stamp"
digest="$( {
    find native -path native/target -prune -o -type f \
        \( -name '*.rs' -o -name '*.toml' -o -name '*.pyi' -o -name 'Cargo.lock' \) -print \
        | LC_ALL=C sort | xargs sha256sum
    cargo --version
    "$PY" --version
} | sha256sum | cut -d' ' -f1 )"

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$digest" ] && [ -x "$VENV/bin/labrys-lazyfs" ] \
        && "$PY" -c 'import labrys_native' >/dev/null 2>&1; then
    echo "native core: up to date"
    exit 0
fi

if ! "$PY" -c 'import maturin' >/dev/null 2>&1; then
    "$PY" -m pip install -q 'maturin>=1.5,<2'
fi
# maturin's PEP 517 hooks run the `maturin` executable, which lives in the venv.
PATH="$(cd "$VENV/bin" && pwd):$PATH" "$PY" -m pip install -q --no-build-isolation ./native
# One target directory for both crates, so the digest above skips all build output.
cargo build -q --release --manifest-path native/lazyfs/Cargo.toml --target-dir native/target
install -m 755 native/target/release/labrys-lazyfs "$VENV/bin/labrys-lazyfs"
echo "$digest" > "$stamp"
echo "native core: built and installed ($("$PY" -c 'import labrys_native; print(labrys_native.__file__)'), $VENV/bin/labrys-lazyfs)"
