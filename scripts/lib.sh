# Shared by scripts/run, scripts/test and scripts/bench: install what is
# missing (Debian), then configure and build as needed. Source it.
# shellcheck shell=bash

KVD_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
JOBS=$(nproc 2>/dev/null || echo 2)

# Packages the build needs; the test and bench scripts add their own.
BUILD_PKGS=(gcc make autoconf automake libtool pkg-config libuv1-dev libcjson-dev check libedit-dev libssl-dev openssl)

say() { printf '==> [%s] %s\n' "$(date +%T)" "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# ensure_pkgs PKG...: install the Debian packages that are not installed.
# apt-get update runs only when something is missing.
ensure_pkgs() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if ! command -v apt-get >/dev/null 2>&1; then
        die "missing packages: ${missing[*]} (and no apt-get here: install them by hand)"
    fi
    if [ "$(id -u)" -ne 0 ]; then
        die "missing packages: ${missing[*]}. Run as root, or: sudo apt-get install ${missing[*]}"
    fi
    say "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || die "apt-get update failed"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
        || die "apt-get install ${missing[*]} failed"
}

# build_intree: autoreconf/configure once, then make (incremental).
build_intree() {
    cd "$KVD_ROOT" || die "cannot cd to $KVD_ROOT"
    if [ ! -x configure ]; then
        say "autoreconf"
        autoreconf -fi >/dev/null 2>&1 || autoreconf -fi || die "autoreconf failed"
    fi
    if [ ! -f config.status ]; then
        say "configure"
        ./configure -q "$@" || die "configure failed (see config.log)"
    fi
    say "make"
    make -s -j"$JOBS" >/dev/null || make -j1 || die "build failed"
}

# build_vpath DIR CONFIGURE_ARGS...: a separate build in DIR/obj from a
# clean copy of the distributed sources in DIR/kvd-src (automake refuses a
# VPATH build from a configured source tree). Needs build_intree first.
build_vpath() {
    local dir=$1; shift
    cd "$KVD_ROOT" || die "cannot cd to $KVD_ROOT"
    rm -rf "$dir/kvd-src"
    mkdir -p "$dir"
    make -s distdir distdir="$dir/kvd-src" >/dev/null || die "make distdir failed"
    mkdir -p "$dir/obj"
    if [ ! -f "$dir/obj/config.status" ]; then
        (cd "$dir/obj" && ../kvd-src/configure -q "$@") || die "configure in $dir failed"
    fi
    make -C "$dir/obj" -s -j"$JOBS" >/dev/null || die "build in $dir failed"
}

# start_server BIN LOG ARGS...: start a kvd (or redis-server) on a free
# loopback port in the background and wait until it answers PING. Sets
# PORT and SPID. Retries on another port if the port was taken; on any
# other failure prints the end of LOG and returns 1. BIN gets
# "--bind 127.0.0.1 --port P" followed by ARGS; for kvd, pass
# "--logfile LOG" among ARGS, for redis-server "--logfile LOG" too.
start_server() {
    local bin=$1 log=$2 try i; shift 2
    for try in 1 2 3 4 5 6 7 8; do
        PORT=$((10000 + RANDOM % 22000))  # below the ephemeral ports
        : >"$log"
        "$bin" --bind 127.0.0.1 --port "$PORT" "$@" &
        SPID=$!
        for i in $(seq 1 1200); do
            kill -0 "$SPID" 2>/dev/null || break
            # Our own listener, not another test's server on that port.
            ss -Hltnp "sport = :$PORT" 2>/dev/null | grep -q "pid=$SPID," &&
                [ "$(timeout 2 redis-cli -p "$PORT" ping 2>/dev/null)" = PONG ] && return 0
            sleep 0.05
        done
        kill -9 "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null
        grep -qi "address already in use" "$log" 2>/dev/null || break
    done
    echo "error: $bin did not start on port $PORT; the end of $log:" >&2
    tail -n 10 "$log" >&2
    SPID=
    return 1
}
