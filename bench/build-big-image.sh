#!/usr/bin/env bash
# Builds a docker-archive of at least 1 GB (uncompressed) for the memory benchmark: the Debian 12 test image plus
# layers of real files copied from this machine (shared libraries, a JDK, Chromium: realistic compression), so peak
# RSS can be compared between a small and a large image. Cached; prints the archive path.
# Needs: umoci, skopeo (see .ci/run) and the test images (tools/build-test-images.sh).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
images=$(bash "$repo/tools/build-test-images.sh")
out=${TALLY_BENCH_DIR:-$HOME/.cache/tally-bench}/big-image
archive=$out/big.tar
if [ -f "$archive" ]; then echo "$archive"; exit 0; fi

work=$(mktemp -d "${out%/*}/.big-build.XXXX")
trap 'rm -rf "$work"' EXIT
cp -r "$images/debian12/oci" "$work/oci"
chmod -R u+w "$work/oci"
umoci unpack --image "$work/oci:latest" "$work/bundle" >&2
# one layer per source directory, each recorded in the history like a Dockerfile COPY
for src in /usr/lib/x86_64-linux-gnu /usr/lib/jvm /usr/lib/chromium /usr/lib/gcc; do
  [ -d "$src" ] || continue
  mkdir -p "$work/bundle/rootfs/opt/big$src"
  cp -a "$src/." "$work/bundle/rootfs/opt/big$src/"
  umoci repack --image "$work/oci:latest" --history.created_by "COPY $src /opt/big$src" "$work/bundle" >&2
done
mkdir -p "$out"
skopeo --insecure-policy copy "oci:$work/oci:latest" "docker-archive:$archive.tmp:tally-bench/big:latest" >&2
mv "$archive.tmp" "$archive"
echo "$archive"
