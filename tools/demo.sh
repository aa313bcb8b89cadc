#!/usr/bin/env bash
# The README's main job: build the example image (real Debian packages and a real npm install; seconds, cached),
# load the vulnerability database, scan the image (Static + SCA) with vulnerabilities; then start the backend on the
# embedded SQLite store (./tally-data), upload the scan to it and print the UI's URL and a viewer token.
set -euo pipefail
cd "$(dirname "$0")/.."
export TALLY_CACHE_DIR=${TALLY_CACHE_DIR:-$PWD/.cache/tally}
data=${TALLY_DEMO_DATA:-$PWD/tally-data}
port=${TALLY_DEMO_PORT:-8080}
tally() { node packages/cli/bin/tally.js "$@"; }

image=$(node --import tsx tools/example-image/build.mts)
if ! tally db status >/dev/null 2>&1; then
  if [ -d ../shared/vulndb ]; then
    echo "Importing the advisory data in ../shared/vulndb" >&2
    tally db import ../shared/vulndb >/dev/null
  else
    echo "Downloading the advisory feeds" >&2
    tally db update
  fi
fi
echo "Scanning the example image $image" >&2
tally scan "docker-archive:$image" --perform-sca-scan --format table

# The backend matches uploads against its own database: give it a copy of the one just used (atomic rename).
server_db="$data/vulndb/tally.db"
if [ ! -f "$server_db" ]; then
  mkdir -p "$data/vulndb"
  cp "$TALLY_CACHE_DIR/db/tally.db" "$server_db.tmp" && mv "$server_db.tmp" "$server_db"
fi
sensor_token=$(tally token create --role sensor --name demo-sensor --data-dir "$data" 2>/dev/null)
viewer_token=$(tally token create --role viewer --name demo-viewer --data-dir "$data" 2>/dev/null)

tally serve --data-dir "$data" --port "$port" --log-level warn &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  node -e 'fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "http://127.0.0.1:$port/healthz" && break
  kill -0 "$server" 2>/dev/null || { echo "tally serve did not start (is port $port in use? set TALLY_DEMO_PORT)" >&2; exit 2; }
  sleep 0.1
done
tally scan "docker-archive:$image" --perform-sca-scan --quiet --format json --output "$data/example-report.json" \
  --upload "http://127.0.0.1:$port" --token "$sensor_token"

cat >&2 <<MSG

Tally is serving the example image at http://127.0.0.1:$port/
Sign in with this viewer token (kept in the browser's session storage only):

  $viewer_token

Try the search scanType:SCA on Images, then the image's Installed Software (All / OS / Non-OS) and Vulnerabilities.
Press Ctrl-C to stop the server (its data stays in $data).
MSG
wait "$server"
