#!/usr/bin/env bash
# ./build.sh dist: the release archives (docs/install.md, "Release archives").
#   packaging/dist.sh [x64] [arm64]   (both by default)
# Builds each architecture through ./build.sh (the build logic lives there alone), then makes
# dist/monaaot-VERSION-linux-ARCH.tar.gz, each unpacking to one folder
# monaaot-VERSION-linux-ARCH/ (the binary, the default www/, the example monaaot.ini, docs/,
# packaging/'s systemd unit and socket, README.md, LICENSE, notices/ of Lua and the .NET
# runtime), and dist/SHA256SUMS.
# Then it checks what it made, and fails when a check fails:
#   - each archive lists exactly the expected files, under its one folder, and nothing else;
#   - the binary in it is executable and `file` names its architecture (when `file` exists);
#   - `sha256sum -c SHA256SUMS` passes in dist/;
#   - the binary unpacked from the archive prints `monaaot VERSION (commit C, linux-ARCH)` for
#     --version: x64 natively, arm64 under qemu-aarch64 when it is installed (said otherwise).
# The archives are reproducible from the same files: names sorted, owner 0, modes normalised,
# every mtime the last commit's time, gzip without a name or time stamp.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DIST=$ROOT/dist

say() { printf '==> %s\n' "$*" >&2; }
fail() { echo "dist: $*" >&2; exit 1; }

arches=("$@")
[ ${#arches[@]} -gt 0 ] || arches=(x64 arm64)
for arch in "${arches[@]}"; do
  case "$arch" in x64|arm64) ;; *) fail "architectures are x64 and arm64, not '$arch'" ;; esac
done

VERSION=$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' src/MonaAot/MonaAot.csproj | head -n 1)
[ -n "$VERSION" ] || fail "no <Version> in src/MonaAot/MonaAot.csproj"
# Every file's time in the archives: the last commit's, so that the same sources give the same
# archive; outside a git checkout SOURCE_DATE_EPOCH, else 0.
MTIME=$(git log -1 --format=%ct 2>/dev/null || echo "${SOURCE_DATE_EPOCH:-0}")

# The notices of what the binary holds besides MonaAot's own code, taken from the packages it
# was built from (nothing of theirs is kept in the repository): Lua 5.4, linked statically
# (Debian's copyright file of liblua5.4-dev), and the .NET runtime compiled in by Native AOT
# (THIRD-PARTY-NOTICES.TXT of the ILCompiler pack of that architecture, the one restore used).
notices_into() {
  local arch=$1 into=$2 packs pack
  packs=${NUGET_PACKAGES:-$HOME/.nuget/packages}/runtime.linux-$arch.microsoft.dotnet.ilcompiler
  pack=$(ls -d "$packs"/*/ 2>/dev/null | sort -V | tail -n 1)
  [ -f /usr/share/doc/liblua5.4-dev/copyright ] || fail "no /usr/share/doc/liblua5.4-dev/copyright (liblua5.4-dev)"
  [ -n "$pack" ] && [ -f "$pack/THIRD-PARTY-NOTICES.TXT" ] || fail "no THIRD-PARTY-NOTICES.TXT in $packs"
  mkdir -p "$into/notices"
  cp /usr/share/doc/liblua5.4-dev/copyright "$into/notices/lua5.4.copyright"
  cp "$pack/THIRD-PARTY-NOTICES.TXT" "$into/notices/dotnet-runtime.THIRD-PARTY-NOTICES.TXT"
}

binary_of() { if [ "$1" = x64 ]; then echo "$ROOT/out/monaaot"; else echo "$ROOT/out/linux-$1/monaaot"; fi; }

# The files an archive must hold, relative to its folder, sorted: fixed ones plus every file of
# the default www and of docs/ as they are in the work tree.
expected_files() {
  {
    printf '%s\n' monaaot monaaot.ini README.md LICENSE packaging/monaaot.service packaging/monaaot.socket \
      notices/lua5.4.copyright notices/dotnet-runtime.THIRD-PARTY-NOTICES.TXT
    (cd src/MonaAot && find www -type f)
    find docs -type f
  } | LC_ALL=C sort
}

for arch in "${arches[@]}"; do
  say "building linux-$arch"
  if [ "$arch" = x64 ]; then ./build.sh; else ./build.sh --arch "$arch"; fi
  [ -x "$(binary_of "$arch")" ] || fail "the build left no $(binary_of "$arch")"
done

rm -rf "$DIST"
mkdir -p "$DIST"
STAGE=$(mktemp -d "${TMPDIR:-/tmp}/monaaot-dist.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT

for arch in "${arches[@]}"; do
  name=monaaot-$VERSION-linux-$arch
  say "dist/$name.tar.gz"
  dir=$STAGE/$name
  mkdir -p "$dir/packaging"
  cp "$(binary_of "$arch")" "$dir/monaaot"
  cp src/MonaAot/monaaot.ini README.md LICENSE "$dir/"
  cp -r src/MonaAot/www docs "$dir/"
  cp packaging/monaaot.service packaging/monaaot.socket "$dir/packaging/"
  notices_into "$arch" "$dir"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$MTIME" \
      --mode='u+rwX,go+rX,go-w' -C "$STAGE" -cf - "$name" | gzip -n -9 >"$DIST/$name.tar.gz"
done
(cd "$DIST" && sha256sum -- *.tar.gz >SHA256SUMS)

# The checks, on the archives as written.
say "checking dist/"
(cd "$DIST" && sha256sum --quiet -c SHA256SUMS) || fail "sha256sum -c SHA256SUMS failed"
expected=$(expected_files)
for arch in "${arches[@]}"; do
  name=monaaot-$VERSION-linux-$arch
  archive=$DIST/$name.tar.gz
  listed=$(tar -tzf "$archive" | grep -v '/$' | LC_ALL=C sort)
  outside=$(printf '%s\n' "$listed" | grep -v "^$name/" || true)
  [ -z "$outside" ] || fail "$name.tar.gz has entries outside $name/: $outside"
  if [ "$(printf '%s\n' "$listed" | sed "s:^$name/::")" != "$expected" ]; then
    diff <(echo "$expected") <(printf '%s\n' "$listed" | sed "s:^$name/::") >&2 || true
    fail "$name.tar.gz does not hold the expected files (above: < missing, > unexpected)"
  fi
  unpacked=$STAGE/check-$arch
  mkdir -p "$unpacked"
  tar -xzf "$archive" -C "$unpacked"
  bin=$unpacked/$name/monaaot
  [ -x "$bin" ] || fail "$name/monaaot is not executable"
  if command -v file >/dev/null; then
    want=$([ "$arch" = x64 ] && echo "x86-64" || echo "ARM aarch64")
    file -b "$bin" | grep -q "$want" || fail "$name/monaaot is not $want: $(file -b "$bin")"
  fi
  pattern="^monaaot $VERSION \(commit ([0-9a-f]{7}|unknown), linux-$arch\)$"
  if [ "$arch" = x64 ]; then
    line=$(timeout 60 "$bin" --version) || fail "$name/monaaot --version failed"
  elif command -v qemu-aarch64 >/dev/null; then
    # With libc6:arm64's loader and libc, not -L /usr/aarch64-linux-gnu (docs/architecture.md,
    # "Architectures"); bounded, since an emulated binary that hangs must not hang the release.
    line=$(timeout 60 qemu-aarch64 "$bin" --version) || fail "$name/monaaot --version under qemu-aarch64 failed"
  else
    say "qemu-aarch64 is not installed: $name/monaaot --version not run"
    line=""
  fi
  if [ -n "$line" ]; then
    [[ $line =~ $pattern ]] || fail "$name/monaaot --version printed '$line'"
  fi
  say "$name.tar.gz: $(printf '%s\n' "$listed" | wc -l) files as expected, $(stat -c %s "$archive") bytes${line:+, $line}"
done
say "dist/ checked: $(cd "$DIST" && ls | tr '\n' ' ')"
