#!/usr/bin/env bash
# x25519-vs-libsodium.sh - compare chaff's Go X25519 (./crypto, CIRCL-backed)
# with libsodium's crypto_scalarmult on this machine.
#
# Usage: bench/x25519-vs-libsodium.sh
#
# Environment:
#   CHAFF_BENCH_ROUNDS  interleaved rounds, best of each side kept (default 3)
#   CHAFF_BENCH_MS      duration of each run in ms, C and Go alike (default 2000)
#   CHAFF_REPO_ROOT     module root holding ./crypto (default: this repo)
#
# Exit status: 0 target met (libsodium/Go ratio <= 1.20), 1 target not met,
#              2 setup or benchmark error.
set -euo pipefail

TARGET_RATIO=1.20

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=${CHAFF_REPO_ROOT:-"$script_dir/.."}
cd "$repo_root"

rounds=${CHAFF_BENCH_ROUNDS:-3}
ms=${CHAFF_BENCH_MS:-2000}
if ! [[ $rounds =~ ^[1-9][0-9]*$ ]]; then
    echo "error: CHAFF_BENCH_ROUNDS must be a positive integer (got '$rounds')" >&2
    exit 2
fi
if ! [[ $ms =~ ^[1-9][0-9]*$ ]]; then
    echo "error: CHAFF_BENCH_MS must be a positive integer (got '$ms')" >&2
    exit 2
fi

die() {
    echo "error: $*" >&2
    exit 2
}

# --- dependencies ---------------------------------------------------------

have_libsodium() {
    command -v pkg-config >/dev/null 2>&1 &&
        pkg-config --exists libsodium &&
        [[ -f /usr/include/sodium.h ]]
}

install_deps() {
    local -a pkgs=(libsodium-dev pkg-config)
    command -v cc >/dev/null 2>&1 || pkgs+=(gcc libc6-dev)
    local -a sudo=()
    if [[ $(id -u) -ne 0 ]]; then
        if ! command -v sudo >/dev/null 2>&1; then
            die "libsodium-dev is missing and cannot be installed: not root and no sudo." \
                "Install it by hand: apt-get install ${pkgs[*]}"
        fi
        if [[ -t 0 ]]; then sudo=(sudo); else sudo=(sudo -n); fi
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        die "libsodium-dev is missing and apt-get is not available; install libsodium (with headers) and pkg-config by hand."
    fi
    echo "Installing ${pkgs[*]} ..." >&2
    if ! "${sudo[@]}" apt-get update -qq ||
        ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq "${pkgs[@]}" >/dev/null; then
        die "could not install ${pkgs[*]} with apt-get."
    fi
}

if ! have_libsodium || ! command -v cc >/dev/null 2>&1; then
    install_deps
    have_libsodium || die "libsodium still not found after installing libsodium-dev."
fi
command -v go >/dev/null 2>&1 || die "go not found in PATH."
[[ -d ./crypto ]] || die "no ./crypto package under $(pwd)."

# --- build the C harness ----------------------------------------------------

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

harness=$tmp/libsodium_x25519
read -r -a sodium_flags <<<"$(pkg-config --cflags --libs libsodium)"
if ! cc -O2 -march=native -o "$harness" "$script_dir/libsodium_x25519.c" \
    "${sodium_flags[@]}" 2>"$tmp/cc.log"; then
    echo "note: cc -march=native failed, building without it" >&2
    cc -O2 -o "$harness" "$script_dir/libsodium_x25519.c" "${sodium_flags[@]}" ||
        die "could not compile bench/libsodium_x25519.c"
fi

# --- run interleaved rounds -------------------------------------------------

# max A B: print the larger of two floats (empty A counts as missing).
max() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b + 0 > a + 0) print b; else print a }'; }

best_c=""
best_go=""
for ((r = 1; r <= rounds; r++)); do
    c_out=$("$harness" "$ms") || die "libsodium harness failed (round $r)"
    c_rate=$(awk '$1 == "libsodium_x25519_ops_per_sec" { print $2 }' <<<"$c_out")
    [[ -n $c_rate ]] || die "could not parse harness output: $c_out"

    if ! go_out=$(go test -run '^$' -bench '^BenchmarkX25519$' \
        -benchtime "${ms}ms" -count 1 ./crypto 2>&1); then
        printf '%s\n' "$go_out" >&2
        die "go test benchmark failed (round $r)"
    fi
    go_ns=$(awk '$1 ~ /^BenchmarkX25519(-[0-9]+)?$/ {
                     for (i = 3; i <= NF; i++) if ($i == "ns/op") { print $(i - 1); exit }
                 }' <<<"$go_out")
    if [[ -z $go_ns ]]; then
        printf '%s\n' "$go_out" >&2
        die "no BenchmarkX25519 ns/op line in go test output (round $r)"
    fi
    go_rate=$(awk -v ns="$go_ns" 'BEGIN { printf "%.1f", 1e9 / ns }')

    printf 'round %d/%d: libsodium %10.0f ops/s   Go %10.0f ops/s (%s ns/op)\n' \
        "$r" "$rounds" "$c_rate" "$go_rate" "$go_ns"
    best_c=$(max "$best_c" "$c_rate")
    best_go=$(max "$best_go" "$go_rate")
done

# --- report -----------------------------------------------------------------

# Ratio is compared as printed (2 decimals), so "1.20" always reads as met.
ratio=$(awk -v c="$best_c" -v g="$best_go" 'BEGIN { printf "%.2f", c / g }')
met=$(awk -v r="$ratio" -v t="$TARGET_RATIO" 'BEGIN { print (r + 0 <= t + 0) ? 1 : 0 }')

echo
echo "X25519 best of $rounds round(s), ${ms} ms each, $(nproc 2>/dev/null || echo '?') CPU(s)"
printf '  %-40s %12.0f ops/s\n' "libsodium crypto_scalarmult" "$best_c"
printf '  %-40s %12.0f ops/s\n' "Go (chaff/crypto, CIRCL) X25519" "$best_go"
printf '  %-40s %12s  (target <= %s)\n' "ratio libsodium/Go (x slower)" "$ratio" "$TARGET_RATIO"
if [[ $met == 1 ]]; then
    echo "target met"
    exit 0
fi
echo "target NOT met"
exit 1
