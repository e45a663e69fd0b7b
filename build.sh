#!/usr/bin/env bash
# MonaAot build entry point (Linux).
#   ./build.sh         install what is missing, build native/, publish out/monaaot + out/www
#   ./build.sh run     build when needed, then run out/monaaot on out/www (extra args passed on)
#   ./build.sh test    build, run the test levels (unit, in-process, end-to-end) on Linux, then
#                      unit and in-process as a Windows build under Wine; end with
#                      "N passed, N failed, N skipped" over all of them; the last level is
#                      test-arm64's
#   ./build.sh test-arm64  build out/linux-arm64/monaaot (--arch arm64), then run the end-to-end
#                      classes of ARM64_CLASSES against it under qemu-aarch64 from this x64 host
#   ./build.sh dist    build x64 and arm64, then dist/monaaot-VERSION-linux-ARCH.tar.gz, SHA256SUMS, checked (packaging/dist.sh)
#   ./build.sh bench   build, then compare MonaAot with C references: echo, timers, relay, workers (tests/bench/bench.py)
#   ./build.sh order   profile the server and rewrite the method order file (tests/bench/method-order.sh)
#   ./build.sh wine-test  the tests as a win-x64 build under Wine (tests/wine/wine.sh; options passed on)
# --arch x64|arm64 before the command (amd64/x86_64, aarch64 accepted; x64 by default) chooses
# the target: x64 publishes out/monaaot (and the same at out/linux-x64/monaaot); arm64
# cross-builds out/linux-arm64/monaaot with its www/ and ini beside it, and `--arch arm64 run`
# runs it under qemu-aarch64. The other commands are for x64 only.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$PWD
OUT=$ROOT/out
ARCH=x64
case "${1:-}" in
  --arch) ARCH=${2:-}; shift 2 || shift ;;
  --arch=*) ARCH=${1#--arch=}; shift ;;
esac
case "$ARCH" in
  x64|amd64|x86_64) ARCH=x64 ;;
  arm64|aarch64) ARCH=arm64 ;;
  *) echo "build.sh: --arch takes x64 or arm64, not '$ARCH'" >&2; exit 2 ;;
esac
# What the build of this architecture leaves: the binary, www/ and the ini in one folder.
if [ "$ARCH" = arm64 ]; then TARGET_DIR=$OUT/linux-arm64; else TARGET_DIR=$OUT; fi
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

say() { printf '==> %s\n' "$*" >&2; }

# System packages the build needs: the static Lua and its headers, a C toolchain and clang
# (the Native AOT linker driver), Python 3 for the benchmark driver, and OpenSSL (headers and
# command) for the benchmark's TLS programs and certificate, two Lua C modules for the tests,
# and the lua5.4 interpreter with lua-cjson for the json benchmark's reference. Installed only
# when missing, non-interactively.
install_missing() {
  local missing=()
  [ -f /usr/include/lua5.4/lua.h ] && ls /usr/lib/*/liblua5.4.a >/dev/null 2>&1 || missing+=(liblua5.4-dev)
  command -v cc >/dev/null || missing+=(gcc)
  command -v make >/dev/null || missing+=(make)
  command -v clang >/dev/null || missing+=(clang)
  command -v ar >/dev/null || missing+=(binutils)
  command -v python3 >/dev/null || missing+=(python3)
  # The benchmark's TLS reference and load generator link OpenSSL; its command makes their certificate.
  [ -f /usr/include/openssl/ssl.h ] || missing+=(libssl-dev)
  command -v openssl >/dev/null || missing+=(openssl)
  # The end-to-end tests load Debian's Lua C modules into the binary (cjson, lpeg); the
  # benchmark's json scenario runs lua-cjson in the lua5.4 interpreter as its reference.
  ls /usr/lib/*/lua/5.4/cjson.so >/dev/null 2>&1 || missing+=(lua-cjson)
  ls /usr/lib/*/lua/5.4/lpeg.so >/dev/null 2>&1 || missing+=(lua-lpeg)
  command -v lua5.4 >/dev/null || missing+=(lua5.4)
  # The metrics tests check the /metrics text with promtool, which Debian ships only in the
  # prometheus package (no smaller one holds it).
  command -v promtool >/dev/null || missing+=(prometheus)
  # The end-to-end PROXY protocol test runs a real HAProxy in front of two instances.
  [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
  # The systemd tests: systemd-socket-activate passes sockets, systemd-analyze checks packaging/.
  command -v systemd-socket-activate >/dev/null || missing+=(systemd)
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  command -v dotnet >/dev/null || { echo "build.sh: the .NET 10 SDK (dotnet) is required and is not on PATH" >&2; exit 1; }
}

# The linux-arm64 cross-build (./build.sh --arch arm64, docs/architecture.md "Architectures"):
# Debian's multiarch arm64 packages (the cross gcc, binutils and libc headers, the arm64 static
# Lua, the arm64 libc and loader that run the result) and qemu-user to run it here. The arm64
# architecture is added to dpkg and the package lists refreshed only when something is missing.
install_missing_arm64() {
  local missing=() p
  for p in gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu libc6-dev-arm64-cross liblua5.4-dev:arm64 libc6:arm64 qemu-user; do
    # installed, not merely known to dpkg: `dpkg -s` also succeeds for a package removed with
    # its configuration files left (status config-files)
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    dpkg --print-foreign-architectures | grep -qx arm64 || $sudo dpkg --add-architecture arm64
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

build() {
  if [ "$ARCH" = arm64 ]; then build_arm64; return; fi
  install_missing
  say "native/"
  make -s -C native
  say "publishing out/monaaot (Native AOT, linux-x64, Release)"
  dotnet publish src/MonaAot/MonaAot.csproj -c Release -r linux-x64 -o "$OUT/publish" -nologo -v quiet -p:TreatWarningsAsErrors=true
  # Copy then rename: a running out/monaaot keeps its old file ("Text file busy" otherwise).
  cp "$OUT/publish/monaaot" "$OUT/monaaot.new" && mv -f "$OUT/monaaot.new" "$OUT/monaaot"
  cp src/MonaAot/monaaot.ini "$OUT/monaaot.ini"
  rm -rf "$OUT/www"
  cp -r src/MonaAot/www "$OUT/www"
  # The same under the name of its runtime identifier, beside out/linux-arm64/.
  mkdir -p "$OUT/linux-x64"
  cp "$OUT/monaaot" "$OUT/linux-x64/monaaot.new" && mv -f "$OUT/linux-x64/monaaot.new" "$OUT/linux-x64/monaaot"
  cp "$OUT/monaaot.ini" "$OUT/linux-x64/monaaot.ini"
  rm -rf "$OUT/linux-x64/www"
  cp -r src/MonaAot/www "$OUT/linux-x64/www"
}

# The linux-arm64 cross-build (docs/architecture.md, "Architectures"): native/'s arm64 archive
# with the cross gcc, then Native AOT for linux-arm64 (the ILCompiler pack comes from NuGet at
# restore; the link goes through native/cross/aarch64-linux-gnu-cc, see MonaAot.csproj).
build_arm64() {
  install_missing
  install_missing_arm64
  say "native/ for linux-arm64"
  make -s -C native arm64
  say "publishing out/linux-arm64/monaaot (Native AOT, linux-arm64, Release)"
  dotnet publish src/MonaAot/MonaAot.csproj -c Release -r linux-arm64 -o "$TARGET_DIR/publish" -nologo -v quiet -p:TreatWarningsAsErrors=true
  cp "$TARGET_DIR/publish/monaaot" "$TARGET_DIR/monaaot.new" && mv -f "$TARGET_DIR/monaaot.new" "$TARGET_DIR/monaaot"
  cp src/MonaAot/monaaot.ini "$TARGET_DIR/monaaot.ini"
  rm -rf "$TARGET_DIR/www"
  cp -r src/MonaAot/www "$TARGET_DIR/www"
}

# True when out/monaaot is older than any source it is built from.
needs_build() {
  [ -x "$TARGET_DIR/monaaot" ] || return 0
  [ -n "$(find src native build.sh Directory.Build.props Directory.Packages.props -newer "$TARGET_DIR/monaaot" -type f \
          -not -path '*/bin/*' -not -path '*/obj/*' -not -path 'native/build/*' -print -quit)" ]
}

# The mail tests' real SMTP server: OpenSMTPD on loopback (tests/smtp/opensmtpd.sh), stopped
# when this script exits. Its port and Maildir reach the tests through the environment; where
# it cannot start (not root), the tests that need it fail and say why.
SMTPD_DIR=""
start_smtpd() {
  SMTPD_DIR=$(mktemp -d "${TMPDIR:-/tmp}/monaaot-smtpd.XXXXXX")
  local started
  if started=$(tests/smtp/opensmtpd.sh start "$SMTPD_DIR"); then
    trap stop_smtpd EXIT
    export MONAAOT_SMTPD_PORT=${started#* } MONAAOT_SMTPD_MAILDIR=$SMTPD_DIR/Maildir
    say "OpenSMTPD on 127.0.0.1:$MONAAOT_SMTPD_PORT (PID ${started% *})"
  else
    say "OpenSMTPD did not start: the tests that deliver through it will fail"
    rm -rf "$SMTPD_DIR"
  fi
}

stop_smtpd() {
  tests/smtp/opensmtpd.sh stop "$SMTPD_DIR" || true
  rm -rf "$SMTPD_DIR"
}

# Every test level in order, fast first: on Linux (epoll) the unit, in-process and end-to-end
# levels (tests/MonaAot.Tests.*), then the unit and in-process levels as a Windows build under
# Wine (IOCP, tests/wine/wine.sh). Every level runs even when one before it failed, so that
# the last line, which sums them all, is the whole picture.
TEST_LEVELS=(Unit InProcess EndToEnd)
run_tests() {
  build
  start_smtpd
  local runs=() log level status
  # shellcheck source=tests/wine/wine.sh
  source tests/wine/wine.sh
  set +e
  for level in "${TEST_LEVELS[@]}"; do
    log=$(mktemp)
    say "$level tests on Linux (epoll)"
    MONAAOT_BINARY="$OUT/monaaot" dotnet test --project "tests/MonaAot.Tests.$level/MonaAot.Tests.$level.csproj" \
      -c Release --no-progress 2>&1 | tee "$log"
    runs+=("$log" "${PIPESTATUS[0]}" "Linux $level")
  done
  trap 'wine_stop; stop_smtpd' EXIT
  log=$(mktemp)
  say "building the tests for Windows (Wine)"
  (set -e; wine_install_missing; wine_build) >"$log" 2>&1
  status=$?
  if [ "$status" -ne 0 ]; then
    cat "$log" >&2
    runs+=("$log" "$status" "Windows build for Wine")
  else
    rm -f "$log"
    for level in "${WINE_LEVELS[@]}"; do
      log=$(mktemp)
      say "$level tests as a Windows build under Wine (IOCP)"
      wine_run "$level" 2>&1 | tee "$log"
      runs+=("$log" "${PIPESTATUS[0]}" "Windows under Wine $level")
    done
  fi
  run_arm64_level
  set -e
  summarize "${runs[@]}"
}

# The end-to-end classes that run against the linux-arm64 binary under emulation
# (docs/architecture.md "Testing and reliability"): the ones that drive the binary through its
# sockets and its signals (a test in them that cannot hold under emulation skips, saying why).
# Not these: HashProcessTests and CModulesProcessTests (ldd and nm of the binary, the host's
# x64 Lua C modules), WorkersProcessTests (a worker re-executes the binary, which only runs
# natively here) and SoakProcessTests (its length is its point).
ARM64_CLASSES=(TcpProcessTests UdpProcessTests FaultProcessTests BadInputProcessTests MailProcessTests
  LayoutProcessTests ServerProcessTests CommandLineProcessTests SignalProcessTests TimerProcessTests
  RequireProcessTests FlowProcessTests TlsProcessTests SystemdProcessTests HaproxyProcessTests
  MetricsProcessTests ExamplesProcessTests)
# qemu-user runs the arm64 binary in its own process (same pid, signals reach it) with the
# loader and libc of libc6:arm64 (no -L: the cross sysroot's loader with that libc hangs); emulated, it does the same work several times
# slower, so the tests' bounded waits are multiplied (tests/MonaAot.Tests.Support/Runner.cs).
ARM64_RUNNER="qemu-aarch64"
ARM64_TIME_SCALE=5

# Appends the arm64 level to the caller's runs: the cross-build (./build.sh --arch arm64, in a
# child process), then ARM64_CLASSES of the EndToEnd level with the runner.
run_arm64_level() {
  local log filter status
  log=$(mktemp)
  say "building out/linux-arm64/monaaot (./build.sh --arch arm64)"
  "$ROOT/build.sh" --arch arm64 >"$log" 2>&1
  status=$?
  if [ "$status" -ne 0 ]; then
    cat "$log" >&2
    runs+=("$log" "$status" "Linux arm64 build")
    return
  fi
  rm -f "$log"
  # The TLS tests load the arm64 libssl.so.3 into the emulated binary (arm64 is a dpkg
  # architecture by now: the arm64 build added it).
  if ! dpkg -s libssl3:arm64 >/dev/null 2>&1; then
    say "installing libssl3:arm64"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends libssl3:arm64 >/dev/null
  fi
  filter="/*/*/($(IFS='|'; echo "${ARM64_CLASSES[*]}" | sed 's/|/)|(/g'))/*"
  log=$(mktemp)
  say "EndToEnd tests of the linux-arm64 binary under qemu-aarch64"
  MONAAOT_BINARY="$OUT/linux-arm64/monaaot" MONAAOT_RUNNER="$ARM64_RUNNER" MONAAOT_TIME_SCALE=$ARM64_TIME_SCALE \
    dotnet test --project tests/MonaAot.Tests.EndToEnd/MonaAot.Tests.EndToEnd.csproj -c Release --no-progress \
    -- --treenode-filter "$filter" 2>&1 | tee "$log"
  runs+=("$log" "${PIPESTATUS[0]}" "Linux arm64 under qemu EndToEnd")
}

run_tests_arm64() {
  start_smtpd
  local runs=()
  set +e
  run_arm64_level
  set -e
  summarize "${runs[@]}"
}

# Turns the test platform's summaries (total/failed/succeeded/skipped) of each run, given as
# log, exit code and name, into one line each, then the line that sums them.
summarize() {
  local total_passed=0 total_failed=0 total_skipped=0 ok=0 passed failed skipped
  while [ $# -ge 3 ]; do
    local log=$1 status=$2 name=$3
    shift 3
    passed=$(tr -d '\r' <"$log" | sed -n 's/^ *succeeded: *\([0-9]*\).*/\1/p' | tail -n 1)
    failed=$(tr -d '\r' <"$log" | sed -n 's/^ *failed: *\([0-9]*\).*/\1/p' | tail -n 1)
    skipped=$(tr -d '\r' <"$log" | sed -n 's/^ *skipped: *\([0-9]*\).*/\1/p' | tail -n 1)
    rm -f "$log"
    if [ -z "$passed" ] || [ -z "$failed" ]; then
      echo "build.sh: the $name test run ended without a summary (exit code $status)" >&2
      passed=0 failed=1 skipped=0
    fi
    # A run that ended badly with no failed test (a hook, a crash after the summary, no test
    # run at all) still counts as one failure, so that the last line never hides it.
    if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
      echo "build.sh: the $name test run ended with exit code $status and no failed test: counted as 1 failure" >&2
      failed=1
    fi
    echo "$name: $passed passed, $failed failed, ${skipped:-0} skipped" >&2
    total_passed=$((total_passed + passed))
    total_failed=$((total_failed + failed))
    total_skipped=$((total_skipped + ${skipped:-0}))
    if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ]; then ok=1; fi
  done
  if [ "$total_skipped" -gt 0 ]; then
    echo "$total_passed passed, $total_failed failed, $total_skipped skipped"
  else
    echo "$total_passed passed, $total_failed failed"
  fi
  return "$ok"
}

case "${1:-build}" in
  build) build ;;
  run)
    shift
    if needs_build; then build; fi
    # An arm64 binary runs here under Debian's qemu-user with the loader and libc of libc6:arm64
    # (/lib/ld-linux-aarch64.so.1, /lib/aarch64-linux-gnu), a matching pair. Not with
    # -L /usr/aarch64-linux-gnu: that prefix has the cross toolchain's loader but no libc.so.6
    # where the loader looks, so qemu falls back to libc6:arm64's, of another build, and the
    # mismatched pair hangs in pthread_create (docs/architecture.md, "Architectures").
    if [ "$ARCH" = arm64 ]; then
      exec qemu-aarch64 "$TARGET_DIR/monaaot" "$@" "$TARGET_DIR/www"
    fi
    exec "$OUT/monaaot" "$@" "$OUT/www"
    ;;
  *) if [ "$ARCH" != x64 ]; then echo "build.sh: only build and run take --arch $ARCH" >&2; exit 2; fi ;;
esac

case "${1:-build}" in
  build|run) ;;
  test) run_tests ;;
  test-arm64) run_tests_arm64 ;;
  bench)
    install_missing
    if needs_build; then build; fi
    exec python3 tests/bench/bench.py
    ;;
  order)
    install_missing
    exec tests/bench/method-order.sh
    ;;
  dist)
    shift
    exec packaging/dist.sh "$@"
    ;;
  wine-test)
    shift
    exec tests/wine/wine.sh "$@"
    ;;
  *) echo "usage: ./build.sh [--arch x64|arm64] [run [monaaot options] | test | test-arm64 | bench | order | dist [x64] [arm64] | wine-test [test options]]" >&2; exit 2 ;;
esac
