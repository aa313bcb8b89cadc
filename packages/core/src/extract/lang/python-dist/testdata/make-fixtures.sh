#!/usr/bin/env bash
# Rebuild the derived fixtures in this directory from real Debian 12 packages (see README.md):
#   - toml-0.10.2-py3.11.egg: a zipped egg made from python3-toml's real files and PKG-INFO
#   - python3.11.excerpt / libpython3.11.so.1.0.excerpt: the ELF header plus 4 KiB of .rodata around
#     PY_VERSION, cut from the real binaries (the whole files are 6.8 and 7.7 MB)
# Needs: apt-get (Debian 12 sources), dpkg-deb, python3, grep -P. Writes only here and to a temp dir.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
apt-get download -q python3-toml=0.10.2-1 python3.11-minimal libpython3.11 >/dev/null 2>&1
for deb in *.deb; do dpkg-deb -x "$deb" root; done

# The egg: what `setup.py bdist_egg` lays out (package + EGG-INFO/), with fixed times so rebuilds are identical.
python3 - "$work/root/usr/lib/python3/dist-packages" "$here/toml-0.10.2-py3.11.egg" <<'EOF'
import os, sys, zipfile
src, out = sys.argv[1], sys.argv[2]
info = os.path.join(src, 'toml-0.10.2.egg-info')
members = [(os.path.join(src, 'toml', f), 'toml/' + f) for f in sorted(os.listdir(os.path.join(src, 'toml'))) if f.endswith('.py')]
members += [(os.path.join(info, f), 'EGG-INFO/' + f) for f in sorted(os.listdir(info))]
with zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED) as z:
    for path, name in members:
        zi = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
        zi.compress_type = zipfile.ZIP_DEFLATED
        zi.external_attr = 0o644 << 16
        with open(path, 'rb') as f:
            z.writestr(zi, f.read())
    zi = zipfile.ZipInfo('EGG-INFO/zip-safe', date_time=(2024, 1, 1, 0, 0, 0))
    z.writestr(zi, b'\n')
EOF

excerpt() {  # BINARY OUT: ELF header (64 bytes) + 2 KiB either side of "\0 3.11.<n> \0"
  local off
  off=$(grep -obUaP '\x003\.11\.[0-9]+\x00' "$1" | head -1 | cut -d: -f1)
  { head -c 64 "$1"; dd if="$1" bs=1 skip=$((off - 2048)) count=4096 status=none; } >"$2"
  echo "$(basename "$1"): sha256 $(sha256sum "$1" | cut -c1-64), version string at offset $off" >&2
}
excerpt root/usr/bin/python3.11 "$here/python3.11.excerpt"
excerpt root/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0 "$here/libpython3.11.so.1.0.excerpt"
