#!/usr/bin/env bash
# The README's main job: build the example image (real Debian packages, a few seconds, cached) and scan it.
set -euo pipefail
cd "$(dirname "$0")/.."
image=$(node --import tsx tools/example-image/build.mts)
echo "Scanning the example image $image" >&2
npx tally scan "docker-archive:$image" --format table
