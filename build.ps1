#!/usr/bin/env pwsh
# MonaAot build entry point for PowerShell 7 (Windows, and Linux too).
#   ./build.ps1         build native/ and publish out/monaaot(.exe) + out/www
#   ./build.ps1 run     build when needed, then run it on out/www (extra args passed on)
#   ./build.ps1 test    build, run every test, end with "N passed, N failed"
#
# Linux: the same steps as build.sh (apt-get installs what is missing).
# Windows (not verifiable on the Linux machines this project is built on; see README):
#   needs the Visual Studio 2022 C++ build tools (run from a "Developer PowerShell", so that
#   cl.exe and lib.exe are on PATH) and a static Lua 5.4 from vcpkg:
#     vcpkg install lua:x64-windows-static     (VCPKG_ROOT must point at vcpkg)
#   The shim and that Lua are merged into native/build/monaaot_native.lib, which the AOT
#   publish links in, as libmonaaot_native.a is on Linux.
param([string]$Command = 'build', [Parameter(ValueFromRemainingArguments = $true)][string[]]$Rest = @())
$ErrorActionPreference = 'Stop'
Set-Location $PSScriptRoot
$Root = $PSScriptRoot
$Out = Join-Path $Root 'out'
$env:DOTNET_CLI_TELEMETRY_OPTOUT = '1'
$env:DOTNET_NOLOGO = '1'

function Invoke-Checked([string]$File, [string[]]$Arguments) {
    & $File @Arguments
    if ($LASTEXITCODE -ne 0) { throw "$File $($Arguments -join ' ') failed with exit code $LASTEXITCODE" }
}

function Install-Missing {
    if ($IsWindows) { return }
    $missing = @()
    if (-not (Test-Path /usr/include/lua5.4/lua.h) -or -not (Get-ChildItem /usr/lib/*/liblua5.4.a -ErrorAction SilentlyContinue)) { $missing += 'liblua5.4-dev' }
    foreach ($tool in @(@('cc', 'gcc'), @('make', 'make'), @('clang', 'clang'), @('ar', 'binutils'))) {
        if (-not (Get-Command $tool[0] -ErrorAction SilentlyContinue)) { $missing += $tool[1] }
    }
    if ($missing.Count -gt 0) {
        Write-Host "==> installing $($missing -join ' ')"
        $sudo = if ((& id -u) -eq '0') { @() } else { @('sudo') }
        Invoke-Checked 'env' ($sudo + @('DEBIAN_FRONTEND=noninteractive', 'apt-get', 'update', '-qq'))
        Invoke-Checked 'env' ($sudo + @('DEBIAN_FRONTEND=noninteractive', 'apt-get', 'install', '-y', '-qq', '--no-install-recommends') + $missing)
    }
}

function Build-NativeWindows {
    if (-not (Get-Command cl.exe -ErrorAction SilentlyContinue)) { throw 'cl.exe not found: run from a Developer PowerShell for Visual Studio 2022' }
    if (-not $env:VCPKG_ROOT) { throw 'VCPKG_ROOT is not set: install vcpkg and run "vcpkg install lua:x64-windows-static"' }
    $lua = Join-Path $env:VCPKG_ROOT 'installed/x64-windows-static'
    $build = Join-Path $Root 'native/build'
    New-Item -ItemType Directory -Force $build | Out-Null
    # Every shim file (C11 for _Thread_local), merged with the static Lua into one library: the
    # same list as SHIM_NAMES in native/Makefile.
    $objects = @()
    foreach ($name in @('mona_binding', 'mona_send', 'mona_file', 'mona_probe', 'mona_alloc', 'mona_gc', 'mona_guard', 'mona_cmodules', 'mona_warn', 'mona_hash', 'mona_hash_x86', 'mona_codec', 'mona_json')) {
        Invoke-Checked 'cl.exe' @('/nologo', '/std:c11', '/O2', '/W4', '/WX', '/c', "/I$lua/include", "/Fo$build/$name.obj", "native/shim/$name.c")
        $objects += "$build/$name.obj"
    }
    Invoke-Checked 'lib.exe' (@('/nologo', "/OUT:$build/monaaot_native.lib") + $objects + @("$lua/lib/lua.lib"))
}

function Invoke-Build {
    Install-Missing
    if ($IsWindows) { Build-NativeWindows; $rid = 'win-x64'; $exe = 'monaaot.exe' }
    else { Invoke-Checked 'make' @('-s', '-C', 'native'); $rid = 'linux-x64'; $exe = 'monaaot' }
    Write-Host "==> publishing out/$exe (Native AOT, $rid, Release)"
    Invoke-Checked 'dotnet' @('publish', 'src/MonaAot/MonaAot.csproj', '-c', 'Release', '-r', $rid, '-o', (Join-Path $Out 'publish'), '-nologo', '-v', 'quiet', '-p:TreatWarningsAsErrors=true')
    Copy-Item (Join-Path $Out "publish/$exe") (Join-Path $Out $exe) -Force
    Copy-Item 'src/MonaAot/monaaot.ini' (Join-Path $Out 'monaaot.ini') -Force
    Remove-Item (Join-Path $Out 'www') -Recurse -Force -ErrorAction SilentlyContinue
    Copy-Item 'src/MonaAot/www' (Join-Path $Out 'www') -Recurse
    return (Join-Path $Out $exe)
}

function Invoke-Tests {
    $binary = Invoke-Build | Select-Object -Last 1
    $env:MONAAOT_BINARY = $binary
    $output = & dotnet test --project tests/MonaAot.Tests/MonaAot.Tests.csproj -c Release --no-progress 2>&1 | Tee-Object -Variable lines
    $output | Out-Host
    $status = $LASTEXITCODE
    $text = $lines -join "`n"
    $passed = [regex]::Matches($text, '(?m)^\s*succeeded:\s*(\d+)') | Select-Object -Last 1
    $failed = [regex]::Matches($text, '(?m)^\s*failed:\s*(\d+)') | Select-Object -Last 1
    $skipped = [regex]::Matches($text, '(?m)^\s*skipped:\s*(\d+)') | Select-Object -Last 1
    if (-not $passed -or -not $failed) { Write-Output '0 passed, 1 failed'; exit 1 }
    $summary = "$($passed.Groups[1].Value) passed, $($failed.Groups[1].Value) failed"
    if ($skipped -and [int]$skipped.Groups[1].Value -gt 0) { $summary += ", $($skipped.Groups[1].Value) skipped" }
    Write-Output $summary
    if ($status -ne 0 -or [int]$failed.Groups[1].Value -ne 0) { exit 1 }
}

switch ($Command) {
    'build' { Invoke-Build | Out-Null }
    'run' {
        $binary = Join-Path $Out ($(if ($IsWindows) { 'monaaot.exe' } else { 'monaaot' }))
        if (-not (Test-Path $binary)) { $binary = Invoke-Build | Select-Object -Last 1 }
        & $binary @Rest (Join-Path $Out 'www')
        exit $LASTEXITCODE
    }
    'test' { Invoke-Tests }
    default { Write-Error 'usage: ./build.ps1 [run [monaaot options] | test]'; exit 2 }
}
