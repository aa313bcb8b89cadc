#!/usr/bin/env bash
# Add a realistic Python installation to a Debian 12 rootfs, for testing Tally's lang/python-dist extractor.
#
#   tools/sca/python.sh ROOTFS
#
# ROOTFS is a Debian 12 (bookworm) root directory, e.g. a copy of the test image's rootfs:
#   cp -a ~/.cache/tally/test-images/v1/debian12/rootfs /tmp/py/rootfs && tools/sca/python.sh /tmp/py/rootfs
# It is modified in place:
#   1. dpkg installs (chrooted) python3, libpython3.11 and several python3-* packages plus every dependency the
#      rootfs lacks; the set is resolved by apt against the rootfs's own dpkg status, so nothing is forced. The .debs
#      come from `apt-get download` into ${TALLY_DEB_CACHE:-$HOME/.cache/tally/debs}. Debian ships their metadata in
#      every form: *.dist-info dirs, *.egg-info dirs, *.egg-info plain files, and both forms for one package.
#   2. pip (the real one, chrooted, offline) installs Debian's pip wheel again under /usr/local, as
#      `pip install --upgrade pip` would: a pip-style dist-info with INSTALLER and RECORD.
#   3. a zipped egg (toml, from python3-toml's files) and an unzipped egg directory (attrs, from python3-attr's),
#      laid out as easy_install does, in /usr/local/lib/python3.11/dist-packages, listed in easy-install.pth.
# Then it writes, next to ROOTFS (derived from the files with Python's own email parser and zipfile, not by Tally):
#   ROOTFS/../python-expected.json          [{name, version, location}] of every distribution; name per PEP 503,
#                                           location = the metadata file (the .egg itself for a zipped egg)
#   ROOTFS/../python-runtime-expected.json  [{name: "python", version, location}] for each ELF that embeds the
#                                           interpreter (version from running the rootfs's own python3.11)
# Idempotent: a second run only rewrites the two JSON files (about a second). Needs root, apt-get, dpkg, python3.
set -euo pipefail

log() { printf '[sca/python] %s\n' "$*" >&2; }
die() { printf '[sca/python] ERROR: %s\n' "$*" >&2; exit 1; }

[[ $# -eq 1 ]] || die "usage: $0 ROOTFS"
[[ $(id -u) == 0 ]] || die "must run as root (chroot, dpkg)"
root=$(cd "$1" && pwd)
[[ $root != / ]] || die "refusing to modify /"
[[ -f $root/var/lib/dpkg/status ]] || die "$root has no /var/lib/dpkg/status: not a Debian rootfs"
grep -q '^VERSION_ID="12"' "$root/usr/lib/os-release" 2>/dev/null || die "$root is not Debian 12"
cache=${TALLY_DEB_CACHE:-${HOME:?}/.cache/tally/debs}
mkdir -p "$cache"
export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8

# What the rootfs gets through dpkg (plus dependencies). python3-xdg ships a dist-info AND a plain-file egg-info
# (xdg-5.egg-info); python3-pyinotify a plain-file egg-info; python3-cryptography both a dist-info and an
# egg-info directory for the same release; libpython3.11 puts a second copy of the interpreter in a shared library.
readonly PACKAGES=(python3 libpython3.11 python3-requests python3-six python3-yaml python3-setuptools python3-pip
  python3-cryptography python3-jinja2 python3-pyinotify python3-xdg)
readonly SITE=/usr/local/lib/python3.11/dist-packages

apt_get() { apt-get -q -o Debug::NoLocking=1 "$@"; }

# Download NAME=VERSION pairs into the cache unless already there (apt names files NAME_VERSION_ARCH.deb with
# ':' escaped as %3a).
fetch() {
  local want=() spec name version
  for spec in "$@"; do
    name=${spec%%=*} version=${spec#*=}
    compgen -G "$cache/${name}_${version//:/%3a}_*.deb" >/dev/null || want+=("$spec")
  done
  ((${#want[@]})) || return 0
  log "downloading ${#want[@]} .deb(s) into $cache"
  if ! (cd "$cache" && apt_get download "${want[@]}") >/dev/null 2>&1; then
    apt_get update >/dev/null
    (cd "$cache" && apt_get download "${want[@]}") >/dev/null || die "apt-get download ${want[*]} failed"
  fi
}

deb_of() {  # NAME=VERSION → path in the cache
  local name=${1%%=*} version=${1#*=} f
  for f in "$cache/${name}_${version//:/%3a}_"*.deb; do [[ -f $f ]] && { echo "$f"; return; }; done
  die "missing $1 in $cache"
}

# Maintainer scripts write to /dev/null; the test rootfs has no device nodes (a plain file would be created and
# end up in the image), so a real one exists only while they run.
in_chroot() {
  local made=0 rc=0
  if [[ ! -e $root/dev/null ]]; then mkdir -p "$root/dev"; mknod -m 666 "$root/dev/null" c 1 3; made=1; fi
  chroot "$root" "$@" || rc=$?
  ((made)) && rm -f "$root/dev/null"
  return $rc
}

# 1. dpkg: apt resolves against the rootfs's own status, so exactly the missing packages are installed; its
# simulated Inst/Conf sequence is replayed as batches of `dpkg --unpack` and `dpkg --configure`, which respects
# Pre-Depends (python3-minimal needs python3.11-minimal configured before it is even unpacked).
simulate() {
  apt_get install -s --no-install-recommends -o Dir::State::status="$root/var/lib/dpkg/status" "${PACKAGES[@]}" 2>/dev/null |
    sed -n -e 's/^Inst \([^ ]*\) \(\[[^]]*\] \)\?(\([^ ]*\) .*/Inst \1=\3/p' -e 's/^Conf \([^ ]*\) .*/Conf \1/p'
}
installed() {  # true when every PACKAGES entry is installed in the rootfs
  ! dpkg-query --admindir="$root/var/lib/dpkg" -W -f '${db:Status-Status}\n' "${PACKAGES[@]}" 2>/dev/null | grep -qv '^installed$' &&
    [[ $(dpkg-query --admindir="$root/var/lib/dpkg" -W -f '${db:Status-Status}\n' "${PACKAGES[@]}" 2>/dev/null | wc -l) == "${#PACKAGES[@]}" ]]
}
mapfile -t steps < <(simulate)
if ((${#steps[@]} == 0)) && ! installed; then
  log "apt cannot resolve the packages; running apt-get update once"
  apt_get update >/dev/null
  mapfile -t steps < <(simulate)
  ((${#steps[@]})) || die "apt-get cannot resolve ${PACKAGES[*]} for $root"
fi
plan=()
for step in "${steps[@]}"; do [[ $step == Inst\ * ]] && plan+=("${step#Inst }"); done
if ((${#plan[@]})); then
  fetch "${plan[@]}"
  staging=$root/tmp/tally-python-debs
  rm -rf "$staging" && mkdir -p "$staging"
  log "installing ${#plan[@]} packages with dpkg"
  unpack=() configure=()
  flush() {
    if ((${#unpack[@]})); then in_chroot dpkg --unpack "${unpack[@]}" >/dev/null; unpack=(); fi
    if ((${#configure[@]})); then in_chroot dpkg --configure "${configure[@]}" >/dev/null; configure=(); fi
  }
  for step in "${steps[@]}"; do
    case $step in
      Inst\ *)
        ((${#configure[@]})) && flush
        deb=$(deb_of "${step#Inst }")
        cp "$deb" "$staging/"
        unpack+=("/tmp/tally-python-debs/$(basename "$deb")") ;;
      Conf\ *)
        ((${#unpack[@]})) && flush
        configure+=("${step#Conf }") ;;
    esac
  done
  flush
  rm -rf "$staging"
  find "$root/var/log" -type f -exec truncate -s 0 {} +
  rm -f "$root/var/cache/ldconfig/aux-cache"
else
  log "dpkg packages already installed"
fi

# 2. pip-installed distribution: Debian's pip wheel, installed by the rootfs's own pip, offline.
if [[ ! -d $root$SITE/pip-23.0.1.dist-info ]]; then
  whl=$(sed -n 's/^Inst python3-pip-whl (\([^ ]*\) .*/\1/p' < <(apt_get install -s python3-pip-whl 2>/dev/null) | head -1)
  whl=${whl:-$(apt-cache policy python3-pip-whl | sed -n 's/ *Candidate: //p')}
  fetch "python3-pip-whl=$whl"
  tmp=$(mktemp -d)
  dpkg-deb -x "$(deb_of "python3-pip-whl=$whl")" "$tmp"
  mkdir -p "$root/tmp/tally-wheels"
  cp "$tmp"/usr/share/python-wheels/pip-*.whl "$root/tmp/tally-wheels/"
  rm -rf "$tmp"
  log "pip install pip (offline, into /usr/local)"
  in_chroot env PIP_DISABLE_PIP_VERSION_CHECK=1 HOME=/root python3 -m pip install -q --no-index --no-deps \
    --ignore-installed --break-system-packages --root-user-action=ignore /tmp/tally-wheels/pip-23.0.1-py3-none-any.whl
  rm -rf "$root/tmp/tally-wheels" "$root/root/.cache/pip"
fi

# 3. eggs, as easy_install lays them out: a zipped one and an unzipped directory.
if [[ ! -f $root$SITE/toml-0.10.2-py3.11.egg || ! -d $root$SITE/attrs-22.2.0-py3.11.egg ]]; then
  fetch python3-toml=0.10.2-1 python3-attr=22.2.0-1
  tmp=$(mktemp -d)
  dpkg-deb -x "$(deb_of python3-toml=0.10.2-1)" "$tmp"
  dpkg-deb -x "$(deb_of python3-attr=22.2.0-1)" "$tmp"
  mkdir -p "$root$SITE"
  log "writing toml-0.10.2-py3.11.egg and attrs-22.2.0-py3.11.egg/"
  python3 - "$tmp/usr/lib/python3/dist-packages" "$root$SITE" <<'EOF'
import os, shutil, sys, zipfile
src, site = sys.argv[1], sys.argv[2]
stamp = (2024, 1, 1, 0, 0, 0)

def add(z, path, name):
    zi = zipfile.ZipInfo(name, date_time=stamp)
    zi.compress_type = zipfile.ZIP_DEFLATED
    zi.external_attr = 0o644 << 16
    with open(path, 'rb') as f:
        z.writestr(zi, f.read())

# zipped egg: the package and EGG-INFO/ (toml's real egg-info files)
with zipfile.ZipFile(os.path.join(site, 'toml-0.10.2-py3.11.egg'), 'w') as z:
    for f in sorted(os.listdir(os.path.join(src, 'toml'))):
        if f.endswith('.py'):
            add(z, os.path.join(src, 'toml', f), 'toml/' + f)
    info = os.path.join(src, 'toml-0.10.2.egg-info')
    for f in sorted(os.listdir(info)):
        add(z, os.path.join(info, f), 'EGG-INFO/' + f)
    z.writestr(zipfile.ZipInfo('EGG-INFO/zip-safe', date_time=stamp), b'\n')

# unzipped egg: attrs' packages, its METADATA as EGG-INFO/PKG-INFO (the same format)
egg = os.path.join(site, 'attrs-22.2.0-py3.11.egg')
shutil.rmtree(egg, ignore_errors=True)
for pkg in ('attr', 'attrs'):
    shutil.copytree(os.path.join(src, pkg), os.path.join(egg, pkg), ignore=shutil.ignore_patterns('__pycache__'))
os.makedirs(os.path.join(egg, 'EGG-INFO'))
shutil.copyfile(os.path.join(src, 'attrs-22.2.0.dist-info', 'METADATA'), os.path.join(egg, 'EGG-INFO', 'PKG-INFO'))
shutil.copyfile(os.path.join(src, 'attrs-22.2.0.dist-info', 'top_level.txt'), os.path.join(egg, 'EGG-INFO', 'top_level.txt'))
with open(os.path.join(site, 'easy-install.pth'), 'w') as f:
    f.write('./toml-0.10.2-py3.11.egg\n./attrs-22.2.0-py3.11.egg\n')
EOF
  rm -rf "$tmp"
fi

# Expected facts, from the files themselves.
runtime_version=$(in_chroot /usr/bin/python3.11 -c 'import platform; print(platform.python_version())')
python3 - "$root" "$runtime_version" <<'EOF'
import email.parser, json, os, re, sys, zipfile
root, runtime_version = sys.argv[1], sys.argv[2]
out = os.path.dirname(root.rstrip('/'))

def headers(data):
    msg = email.parser.HeaderParser().parsestr(data.decode('utf-8', 'replace'))
    return msg.get('Name'), msg.get('Version')

found = []
for dirpath, dirnames, filenames in os.walk(root):
    rel = '/' + os.path.relpath(dirpath, root) if dirpath != root else ''
    if rel.startswith(('/proc', '/sys', '/dev')):
        continue
    base = os.path.basename(dirpath)
    for f in filenames:
        path = os.path.join(dirpath, f)
        if os.path.islink(path) or not os.path.isfile(path):
            continue
        loc = f'{rel}/{f}'
        data = None
        if f == 'METADATA' and base.endswith('.dist-info'):
            data = open(path, 'rb').read()
        elif f == 'PKG-INFO' and (base.endswith('.egg-info') or base == 'EGG-INFO'):
            data = open(path, 'rb').read()
        elif f.endswith('.egg-info'):
            data = open(path, 'rb').read()
        elif f.endswith('.egg'):
            with zipfile.ZipFile(path) as z:
                data = z.read('EGG-INFO/PKG-INFO')
        if data is None:
            continue
        name, version = headers(data)
        found.append({'name': re.sub(r'[-_.]+', '-', name).lower(), 'version': version, 'location': loc})

found.sort(key=lambda d: d['location'])
with open(os.path.join(out, 'python-expected.json'), 'w') as fh:
    json.dump(found, fh, indent=2)
    fh.write('\n')

runtime = []
for loc in ('/usr/bin/python3.11', '/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0'):
    p = root + loc
    if os.path.isfile(p) and not os.path.islink(p):
        runtime.append({'name': 'python', 'version': runtime_version, 'location': loc})
with open(os.path.join(out, 'python-runtime-expected.json'), 'w') as fh:
    json.dump(runtime, fh, indent=2)
    fh.write('\n')
print(f'[sca/python] {len(found)} distributions, {len(runtime)} interpreter binaries ({runtime_version}) -> {out}/python-expected.json', file=sys.stderr)
EOF
