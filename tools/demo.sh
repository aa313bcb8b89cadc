#!/usr/bin/env bash
# The README's main job: build the example image (real Debian packages and a real npm install; seconds, cached),
# load the vulnerability database, and scan the image (Static + SCA) with vulnerabilities.
set -euo pipefail
cd "$(dirname "$0")/.."
export TALLY_CACHE_DIR=${TALLY_CACHE_DIR:-$PWD/.cache/tally}
image=$(node --import tsx tools/example-image/build.mts)
if ! npx tally db status >/dev/null 2>&1; then
  if [ -d ../shared/vulndb ]; then
    echo "Importing the advisory data in ../shared/vulndb" >&2
    npx tally db import ../shared/vulndb >/dev/null
  else
    echo "Downloading the advisory feeds" >&2
    npx tally db update
  fi
fi
echo "Scanning the example image $image" >&2
npx tally scan "docker-archive:$image" --perform-sca-scan --format table
