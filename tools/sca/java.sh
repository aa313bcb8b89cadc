#!/usr/bin/env bash
# Put real Java artifacts into a Debian 12 rootfs, for the SCA end-to-end tests:
#   - Debian lib*-java packages (dpkg -i in a chroot; the debs are downloaded on the host once and cached),
#   - the Debian JRE (openjdk-17-jre-headless, unpacked only: its maintainer scripts need a running system),
#   - /app/app.jar: a Spring-Boot-style fat jar built from those jars (BOOT-INF/lib stored, as Spring does),
#   - /srv/app.war: a war with WEB-INF/lib,
# and write $1/../java-expected.json: [{name, version, location}] for every Java package known to be there,
# derived independently of Tally (pom.properties read with python's zipfile, the JRE from its release file).
# Jars without pom.properties (Debian's atinject and jsr305) are left out: their Maven identity is not knowable.
#
# Usage: tools/sca/java.sh ROOTFS        (root; idempotent; seconds once the debs are cached)
# Env:   TALLY_DEB_CACHE (default ~/.cache/tally/debs)
set -euo pipefail

if [[ $# -ne 1 || ! -d "$1" ]]; then
  echo "usage: $0 ROOTFS" >&2
  exit 2
fi
ROOT=$(realpath "$1")
OUT=$(dirname "$ROOT")/java-expected.json
CACHE=${TALLY_DEB_CACHE:-$HOME/.cache/tally/debs}
mkdir -p "$CACHE"

# What goes in. The first group is installed with its dependencies satisfied; the second group's remaining
# dependencies (error-prone, lightcouch, mongodb, the JRE's native libraries) are not needed for the test.
PKGS=(libapache-pom-java libcommons-parent-java libcommons-lang3-java libslf4j-java libatinject-jsr330-api-java libjsr305-java
  libguava-java libjackson2-core-java libcommons-io-java liblog4j2-java)
UNPACK_ONLY=(openjdk-17-jre-headless)

deb_of() { # newest cached deb of a package
  ls -1 "$CACHE/$1"_*.deb 2>/dev/null | sort -V | tail -n1
}

missing=()
for p in "${PKGS[@]}" "${UNPACK_ONLY[@]}"; do
  [[ -n "$(deb_of "$p")" ]] || missing+=("$p")
done
if ((${#missing[@]} > 0)); then
  echo "java.sh: downloading ${missing[*]}" >&2
  (cd "$CACHE" && apt-get download "${missing[@]}" >&2) || {
    apt-get update -qq >&2
    (cd "$CACHE" && apt-get download "${missing[@]}" >&2)
  }
fi

installed() { # package installed (or unpacked) in the rootfs at the cached version?
  local want
  want=$(dpkg-deb -f "$(deb_of "$1")" Version)
  [[ "$(chroot "$ROOT" dpkg-query -W -f='${Version} ${Status}' "$1" 2>/dev/null)" =~ ^"$want "(install|hold)\ ok\ (installed|unpacked)$ ]]
}

stage="$ROOT/tmp/tally-java-debs"
todo=()
for p in "${PKGS[@]}"; do installed "$p" || todo+=("$p"); done
todo_unpack=()
for p in "${UNPACK_ONLY[@]}"; do installed "$p" || todo_unpack+=("$p"); done
if ((${#todo[@]} + ${#todo_unpack[@]} > 0)); then
  rm -rf "$stage" && mkdir -p "$stage"
  trap 'rm -rf "$stage"' EXIT
  for p in "${todo[@]}" "${todo_unpack[@]}"; do cp "$(deb_of "$p")" "$stage/$p.deb"; done
  if ((${#todo[@]} > 0)); then
    args=()
    for p in "${todo[@]}"; do args+=("/tmp/tally-java-debs/$p.deb"); done
    log=$(chroot "$ROOT" dpkg -i --force-depends "${args[@]}" 2>&1) || { echo "$log" >&2; exit 1; }
  fi
  for p in "${todo_unpack[@]}"; do
    log=$(chroot "$ROOT" dpkg --unpack --force-depends "/tmp/tally-java-debs/$p.deb" 2>&1) || { echo "$log" >&2; exit 1; }
  done
  rm -rf "$stage"
fi

# The fat jar, the war and the expected list: python's zipfile, fixed timestamps (same bytes on every run).
python3 - "$ROOT" "$OUT" <<'PY'
import io, json, os, sys, zipfile

root, out = sys.argv[1], sys.argv[2]
java = os.path.join(root, 'usr/share/java')
STAMP = (2024, 1, 1, 0, 0, 0)

def versioned(name):
    """Debian ships commons-lang3.jar plus a versioned symlink commons-lang3-3.12.0.jar: Spring names jars so."""
    target = os.path.realpath(os.path.join(java, name + '.jar'))
    for f in sorted(os.listdir(java)):
        p = os.path.join(java, f)
        if f.startswith(name + '-') and f.endswith('.jar') and os.path.islink(p) and os.path.realpath(p) == target:
            return f, target
    return name + '.jar', target

def add(z, name, data, stored=False):
    info = zipfile.ZipInfo(name, STAMP)
    info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    z.writestr(info, data)

def build(path, manifest, pom, libdir, libs, stored_libs, classes):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + '.tmp'
    with zipfile.ZipFile(tmp, 'w') as z:
        add(z, 'META-INF/MANIFEST.MF', manifest)
        g, a, v = pom
        add(z, f'META-INF/maven/{g}/{a}/pom.properties', f'artifactId={a}\ngroupId={g}\nversion={v}\n')
        for name, data in classes:
            add(z, name, data)
        for lib in libs:
            fname, real = versioned(lib)
            with open(real, 'rb') as f:
                add(z, libdir + fname, f.read(), stored=stored_libs)
    os.replace(tmp, path)

boot_libs = ['commons-lang3', 'slf4j-api', 'guava', 'jackson-core', 'commons-io', 'log4j-api', 'log4j-core']
build(os.path.join(root, 'app/app.jar'),
      'Manifest-Version: 1.0\r\nMain-Class: org.springframework.boot.loader.JarLauncher\r\n'
      'Start-Class: com.example.demo.DemoApplication\r\nSpring-Boot-Version: 2.7.18\r\n'
      'Spring-Boot-Classes: BOOT-INF/classes/\r\nSpring-Boot-Lib: BOOT-INF/lib/\r\n\r\n',
      ('com.example', 'demo-app', '1.0.0'), 'BOOT-INF/lib/', boot_libs, True,
      [('BOOT-INF/classes/application.properties', 'server.port=8080\n')])
build(os.path.join(root, 'srv/app.war'),
      'Manifest-Version: 1.0\r\nCreated-By: tally java.sh\r\n\r\n',
      ('com.example', 'demo-web', '2.0.0'), 'WEB-INF/lib/', ['slf4j-api', 'jackson-core', 'commons-lang3'], False,
      [('WEB-INF/web.xml', '<web-app/>\n')])

def poms(zf):
    for n in zf.namelist():
        parts = n.split('/')
        if len(parts) == 5 and parts[0] == 'META-INF' and parts[1] == 'maven' and parts[4] == 'pom.properties':
            props = {}
            for line in zf.read(n).decode('utf-8', 'replace').splitlines():
                line = line.strip()
                if line and not line.startswith(('#', '!')) and '=' in line:
                    k, v = line.split('=', 1)
                    props.setdefault(k.strip(), v.strip())
            if props.get('version'):
                yield props.get('groupId') or parts[2], props.get('artifactId') or parts[3], props['version']

expected = []
def walk(data, location, depth=0):
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for g, a, v in poms(zf):
            expected.append({'name': f'{g}:{a}', 'version': v, 'location': location})
        if depth < 4:
            for n in zf.namelist():
                if n.lower().endswith(('.jar', '.war', '.ear')) and not n.endswith('/'):
                    walk(zf.read(n), f'{location}!/{n}', depth + 1)

for dirpath, dirs, files in os.walk(root):
    dirs[:] = sorted(d for d in dirs if os.path.relpath(os.path.join(dirpath, d), root) not in ('proc', 'sys', 'dev'))
    for f in sorted(files):
        p = os.path.join(dirpath, f)
        if f.lower().endswith(('.jar', '.war', '.ear')) and os.path.isfile(p) and not os.path.islink(p):
            with open(p, 'rb') as fh:
                walk(fh.read(), '/' + os.path.relpath(p, root))

for dirpath, _, files in os.walk(os.path.join(root, 'usr/lib/jvm')):
    if 'release' in files and not os.path.islink(os.path.join(dirpath, 'release')):
        rel = {}
        with open(os.path.join(dirpath, 'release')) as fh:
            for line in fh:
                if '=' in line:
                    k, v = line.rstrip('\n').split('=', 1)
                    rel[k] = v.strip('"')
        if rel.get('JAVA_VERSION'):
            expected.append({'name': 'openjdk', 'version': rel['JAVA_VERSION'],
                             'location': '/' + os.path.relpath(os.path.join(dirpath, 'release'), root)})

expected.sort(key=lambda e: (e['location'], e['name'], e['version']))
with open(out + '.tmp', 'w') as fh:
    json.dump(expected, fh, indent=1)
    fh.write('\n')
os.replace(out + '.tmp', out)
print(f'java.sh: {len(expected)} Java packages -> {out}', file=sys.stderr)
PY
