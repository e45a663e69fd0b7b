#!/usr/bin/env bash
# Regenerates src/MonaAot/monaaot.order, the method order the Native AOT compiler lays the
# managed code out in (IlcOrderFile).
#
# Why: the kernel maps a binary's code in 64 KiB windows around each page touched (fault-around).
# In the compiler's default order the methods start-up and the echo path run are spread over the
# 3.6 MiB of managed code, so nearly all of it became resident: 2.9 MiB of code RSS for an idle
# server. Listed first and together, what runs fits in about 300 KiB, and idle RSS drops by about
# 1 MiB (docs/performance.md).
#
# How: a publish with symbols runs the default www (plus a UDP echo child) under callgrind
# through start-up, TCP ping-pong and streaming, UDP echo and SIGTERM; every managed method that executed is written out, the ones with the most
# instructions first (so the per-message path shares cache lines and pages too). Methods added
# later and not yet profiled are placed after the listed ones, as before: a stale file costs
# memory, never correctness. Run it again after a change to the start-up or per-message path.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
BIN=$ROOT/native/build/bench
ORDER=$ROOT/src/MonaAot/monaaot.order

say() { printf '==> %s\n' "$*" >&2; }

if ! command -v valgrind >/dev/null || ! command -v callgrind_annotate >/dev/null; then
  say "installing valgrind"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends valgrind >/dev/null
fi
# The profile drives the server with the benchmark's load generators (make bench).
make -s -C native all bench

WORK=$(mktemp -d "${TMPDIR:-/tmp}/monaaot-order.XXXXXX")
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill -KILL "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# The compiler's incremental step does not notice every property change: start and end clean.
fresh_native() { rm -rf src/MonaAot/obj/Release/net10.0/linux-x64/native src/MonaAot/bin/Release/net10.0/linux-x64/native; }
say "publishing with symbols (no order file, so the profile does not depend on the old one)"
fresh_native
dotnet publish src/MonaAot/MonaAot.csproj -c Release -r linux-x64 -o "$WORK/publish" -nologo -v quiet \
  -p:StripSymbols=false -p:IlcOrderFile= >/dev/null
fresh_native
# valgrind cannot read the toolchain's DWARF 5; the symbol table is all it needs here.
objcopy --strip-debug "$WORK/publish/monaaot" "$WORK/monaaot"

# A deployment's start-up: the default www and ini as shipped (the TCP echo service, on port 0
# here), plus a child application echoing UDP.
cp -r src/MonaAot/www "$WORK/www"
sed 's/^port = 7000$/port = 0/' src/MonaAot/monaaot.ini >"$WORK/monaaot.ini"
mkdir -p "$WORK/www/udp"
cat >"$WORK/www/udp/main.lua" <<'LUA'
local udp = mona:createUDPSocket()
function udp:onReception(data, address)
  self:send(data, address)
end
udp:bind("127.0.0.1:0")
NOTE("udp echo on port ", udp.address:match(":(%d+)$"))
LUA

say "profiling start-up and echo traffic under callgrind"
valgrind --tool=callgrind --callgrind-out-file="$WORK/callgrind.out" "$WORK/monaaot" --log=6 "--config=$WORK/monaaot.ini" "$WORK/www" \
  >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 600); do
  grep -q 'listening on port [0-9]' "$WORK/server.log" && grep -q 'udp echo on port [0-9]' "$WORK/server.log" && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; exit 1; }
  sleep 0.1
done
TCP_PORT=$(grep -oE 'listening on port [0-9]+' "$WORK/server.log" | head -n 1 | grep -oE '[0-9]+$' || true)
UDP_PORT=$(grep -oE 'udp echo on port [0-9]+' "$WORK/server.log" | head -n 1 | grep -oE '[0-9]+$' || true)
[ -n "$TCP_PORT" ] && [ -n "$UDP_PORT" ] || { cat "$WORK/server.log" >&2; exit 1; }
"$BIN/loadgen" --host 127.0.0.1 --port "$TCP_PORT" --connections 20 --size 64 --mode pingpong --duration 3 >/dev/null
"$BIN/loadgen" --host 127.0.0.1 --port "$TCP_PORT" --connections 4 --size 16384 --mode stream --duration 3 >/dev/null
"$BIN/udpgen" --host 127.0.0.1 --port "$UDP_PORT" --connections 4 --size 64 --mode pingpong --duration 3 >/dev/null
kill -TERM "$SERVER_PID"
wait "$SERVER_PID" || true
SERVER_PID=""

# The managed code section's bounds: only its symbols are the compiler's to order.
# nm prints addresses as 16 lower-case hex digits, so they compare as strings.
read -r CODE_START CODE_SIZE < <(readelf -SW "$WORK/monaaot" |
  awk '$2 == "__managedcode" { print $4, $6 } $3 == "__managedcode" { print $5, $7 }')
LO=$(printf '%016x' $((16#$CODE_START)))
HI=$(printf '%016x' $((16#$CODE_START + 16#$CODE_SIZE)))
# "address name" per symbol: a method can have two names at one address (a runtime export's
# short one, "RhNewObject", beside the compiler's own), and callgrind reports either.
nm --defined-only "$WORK/monaaot" | awk -v lo="$LO" -v hi="$HI" '$1 >= lo && $1 < hi { print $1, $3 }' |
  sort -u >"$WORK/managed.txt"

# Functions by their own instruction count, most first; "file:function [object]" per line.
callgrind_annotate --inclusive=no --threshold=100 "$WORK/callgrind.out" |
  sed -n 's/^ *[0-9,]* ([ 0-9.]*%)  [^:]*:\([^ ]*\) .*/\1/p' >"$WORK/executed.txt"
# Every name of each executed method, in the profile's order: the compiler knows a method by
# one of them and ignores the others.
awk 'NR == FNR { addr[$2] = $1; names[$1] = names[$1] " " $2; next }
     ($0 in addr) && !seen[addr[$0]]++ { n = split(names[addr[$0]], a, " "); for (i = 1; i <= n; i++) print a[i] }' \
  "$WORK/managed.txt" "$WORK/executed.txt" >"$ORDER.new"
[ -s "$ORDER.new" ] || { echo "method-order.sh: no managed method found in the profile" >&2; exit 1; }
mv -f "$ORDER.new" "$ORDER"
say "$(wc -l <"$ORDER") methods written to ${ORDER#"$ROOT"/}"
