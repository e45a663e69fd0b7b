#!/usr/bin/env bash
# The tests as a Windows program, on the Linux machines this project is built on: self-contained
# win-x64 builds of the unit and in-process test levels (tests/MonaAot.Tests.Unit and
# tests/MonaAot.Tests.InProcess; JIT, not Native AOT) run under Wine. The end-to-end level
# drives the Linux binary and is not run here.
#   ./build.sh wine-test [--level Unit|InProcess] [test options]     (or tests/wine/wine.sh ...)
# The options go to each test program (Microsoft.Testing.Platform), for instance
#   --treenode-filter '/*/*/(AllocatorTests)|(BindingTests)/*'    --list-tests    --help
# and a level whose tests the filter all leaves out counts as passed. Without options, every
# test of both levels runs: the suites on sockets run on the IOCP backend, the Linux-only
# classes ([RunOn(OS.Linux)]: DescriptorLeakTests, EpollLayoutTests, ...) are skipped, and so
# are the few checks Wine cannot show (tests/MonaAot.Tests.Support/Wine.cs says which).
#
# Steps: install Wine and MinGW-w64 when missing; make -C native windows (monaaot_native.dll
# over KeraLua's lua54.dll); publish each level into out/wine/tests/LEVEL, with bin/ and obj/
# under out/wine/artifacts so that the Linux build's stay as they are; run it in a private Wine
# prefix, out/wine/prefix, made headless on first use; stop that prefix's wineserver at the
# end, however the run ended.
# Sourced, the file only defines its functions (wine_install_missing, wine_build, wine_run).
set -euo pipefail

WINE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WINE_OUT=$WINE_ROOT/out/wine
WINE_PREFIX_DIR=$WINE_OUT/prefix

wine_say() { printf '==> %s\n' "$*" >&2; }

# A Wine program by name: on PATH, or where Debian's wine64 package puts it (/usr/lib/wine: the
# `wine` package would add the wrappers on PATH, which nothing here needs).
wine_tool() {
  command -v "$1" 2>/dev/null || { [ -x "/usr/lib/wine/$1" ] && echo "/usr/lib/wine/$1"; } || true
}

# What the Windows build and run need, installed only when missing, non-interactively: Wine
# (64-bit only: .NET's win-x64 runtime needs no 32-bit Wine), the MinGW-w64 C compiler, and
# what native/ needs on Linux as well (Lua's headers, make).
wine_install_missing() {
  local missing=()
  [ -n "$(wine_tool wine64)" ] || missing+=(wine64)
  command -v x86_64-w64-mingw32-gcc >/dev/null || missing+=(gcc-mingw-w64-x86-64)
  [ -f /usr/include/lua5.4/lua.h ] || missing+=(liblua5.4-dev)
  command -v make >/dev/null || missing+=(make)
  if [ ${#missing[@]} -gt 0 ]; then
    wine_say "installing ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  command -v dotnet >/dev/null || { echo "wine.sh: the .NET 10 SDK (dotnet) is required and is not on PATH" >&2; exit 1; }
}

# Runs a command in the private prefix, without a display: WINEDEBUG=-all keeps Wine's own
# messages out of the tests' output. DOTNET_EnableWriteXorExecute=0: with .NET's W^X on (the
# default), Wine 8 ends the process with "Internal CLR error (0x80131506)" in
# DynamicResolver+DestroyScout.Finalize once a dynamic method is collected.
wine_env() {
  env -u DISPLAY -u WAYLAND_DISPLAY WINEPREFIX="$WINE_PREFIX_DIR" WINEDEBUG=-all \
    WINEDLLOVERRIDES="winemenubuilder.exe=d${WINE_EXTRA_OVERRIDES:+;$WINE_EXTRA_OVERRIDES}" \
    DOTNET_EnableWriteXorExecute=0 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 "$@"
}

# The prefix, made once. mscoree and mshtml are disabled for wineboot only, so that it does
# not look for Wine's Mono and Gecko (no download, no dialog); the test run needs mscoree back:
# Wine's loader asks it to load IL-only images, and CoreCLR loads facades such as
# System.Runtime.dll that way ("mscoree.dll not found, IL-only binary ... cannot be loaded").
# wineboot's "failed to open ...syswow64\rundll32.exe" is the 32-bit half, which is not there.
wine_prefix() {
  [ -f "$WINE_PREFIX_DIR/system.reg" ] && return 0
  wine_say "making the Wine prefix out/wine/prefix"
  mkdir -p "$WINE_OUT"
  WINE_EXTRA_OVERRIDES="mscoree,mshtml=" wine_env "$(wine_tool wine64)" wineboot -i >"$WINE_OUT/wineboot.log" 2>&1
  wine_env "$(wine_tool wineserver)" -w
}

# Stops the prefix's wineserver and every Wine process in it (it would otherwise linger a few
# seconds after the last program, with services.exe, winedevice.exe and explorer.exe).
wine_stop() {
  local server
  server=$(wine_tool wineserver)
  [ -n "$server" ] && [ -d "$WINE_PREFIX_DIR" ] && wine_env "$server" -k 2>/dev/null || true
  wine_spawner_stop
}

# The levels run under Wine, in the order they run: fast first.
WINE_LEVELS=(Unit InProcess)

# native/'s DLL and the published tests. The global properties: no Native AOT for this build
# (src/MonaAot sets PublishAot), and artifacts output so that bin/ and obj/ (restore's assets
# for win-x64 included) go under out/wine/artifacts. KeraLua's package must be restored before
# make, which links against its lua54.dll.
wine_build() {
  local props=(-p:PublishAot=false -p:UseArtifactsOutput=true "-p:ArtifactsPath=$WINE_OUT/artifacts")
  local level project
  (
    cd "$WINE_ROOT"
    wine_say "restoring for win-x64"
    for level in "${WINE_LEVELS[@]}"; do
      dotnet restore "tests/MonaAot.Tests.$level/MonaAot.Tests.$level.csproj" -r win-x64 -p:SelfContained=true "${props[@]}" -nologo -v quiet
    done
    wine_say "native/ for Windows (make windows)"
    make -s -C native windows
    for level in "${WINE_LEVELS[@]}"; do
      project=tests/MonaAot.Tests.$level/MonaAot.Tests.$level.csproj
      wine_say "publishing the $level tests for win-x64 (self-contained, JIT) into out/wine/tests/$level"
      dotnet publish "$project" -c Release -r win-x64 --self-contained --no-restore "${props[@]}" \
        -o "$WINE_OUT/tests/$level" -nologo -v quiet -p:TreatWarningsAsErrors=true
    done
  )
}

# Runs one level's MonaAot.Tests.LEVEL.exe with the given options (every test without any); the
# exit code is the test program's. The wineserver is stopped before returning.
wine_run() {
  local level=$1
  shift
  local args=("$@")
  if [ ${#args[@]} -eq 0 ]; then
    args=(--progress off --no-ansi)
  fi
  wine_prefix
  wine_spawner_start
  wine_say "MonaAot.Tests.$level.exe under Wine ${args[*]}"
  local status=0
  (cd "$WINE_OUT/tests/$level" && MONAAOT_WINE_SPAWNER=$WINE_SPAWNER_PORT wine_env "$(wine_tool wine64)" "MonaAot.Tests.$level.exe" "${args[@]}") || status=$?
  wine_stop
  return $status
}

# The Linux peers of the tests (openssl, python3) are started by tests/wine/spawner.py, a Linux
# process, on the test program's request (MONAAOT_WINE_SPAWNER: its port): see the script for
# why not by the program under Wine. Started once per run, stopped by wine_stop.
WINE_SPAWNER_PID=""
WINE_SPAWNER_PORT=""
wine_spawner_start() {
  [ -z "$WINE_SPAWNER_PID" ] || return 0
  local fifo
  fifo=$(mktemp -u)
  mkfifo "$fifo"
  python3 "$WINE_ROOT/tests/wine/spawner.py" >"$fifo" &
  WINE_SPAWNER_PID=$!
  read -r -t 30 WINE_SPAWNER_PORT <"$fifo" || { echo "wine.sh: the spawner did not start" >&2; rm -f "$fifo"; return 1; }
  rm -f "$fifo"
}

wine_spawner_stop() {
  if [ -n "$WINE_SPAWNER_PID" ]; then
    kill "$WINE_SPAWNER_PID" 2>/dev/null || true
    wait "$WINE_SPAWNER_PID" 2>/dev/null || true
  fi
  WINE_SPAWNER_PID=""
  WINE_SPAWNER_PORT=""
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  trap wine_stop EXIT
  if [ "${1:-}" = "--level" ]; then
    WINE_LEVELS=("$2")
    shift 2
  fi
  wine_install_missing
  wine_build
  status=0
  for level in "${WINE_LEVELS[@]}"; do
    level_status=0
    wine_run "$level" "$@" || level_status=$?
    # 8: no test ran, which with options only means the filter left out this level's tests.
    if [ "$level_status" -eq 8 ] && [ $# -gt 0 ]; then level_status=0; fi
    [ "$level_status" -eq 0 ] || status=$level_status
  done
  exit $status
fi
