#!/usr/bin/env bash
# Build Tally's container-image test fixtures from real Debian packages.
#
#   tools/build-test-images.sh          # prints the output root on its last stdout line
#
# Output: ${TALLY_TEST_IMAGES:-$HOME/.cache/tally/test-images}/v<VERSION>/ (see
# tools/fixtures/README.md for every image and its expected facts). A finished
# build has a `.complete` marker; then the script only prints the path.
# Bump VERSION whenever the images change so old caches are not reused.
#
# Runs as root, non-interactively. Debian packages it needs (for .ci/run):
#   debootstrap debian-archive-keyring gpgv wget umoci skopeo rpm db5.3-util
#   python3 dpkg apt tar gzip coreutils util-linux findutils
# Network: deb.debian.org (debootstrap, once per cache root) and the host's apt
# sources (`apt-get download` of a few .debs).
set -euo pipefail

readonly VERSION=3
readonly SUITE=bookworm
readonly MIRROR=http://deb.debian.org/debian
# All timestamps derive from this (2024-01-01T00:00:00Z) so rebuilds differ
# only where the Debian archive changed.
readonly EPOCH=1704067200
export SOURCE_DATE_EPOCH=$EPOCH

readonly CACHE_ROOT=${TALLY_TEST_IMAGES:-${HOME:?set HOME or TALLY_TEST_IMAGES}/.cache/tally/test-images}
readonly OUT=$CACHE_ROOT/v$VERSION

# Fast path (warm cache): nothing else runs, so this takes milliseconds.
if [[ -f $OUT/.complete ]]; then
  echo "$OUT"
  exit 0
fi

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly SCRIPT_DIR
readonly HELPER=$SCRIPT_DIR/lib/test_images.py
readonly README_SRC=$SCRIPT_DIR/fixtures/README.md
readonly DEBOOTSTRAP_TAR=$CACHE_ROOT/debootstrap-$SUITE.tar

# Keep stdout for the final path only: everything else goes to stderr.
exec 3>&1 1>&2 </dev/null
export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 TZ=UTC

WORK=""        # temp build dir next to $OUT, renamed to $OUT at the end
BG_PID=""      # long-running child (debootstrap) leading its own process group

log() { printf '[build-test-images] %s\n' "$*" >&2; }
die() { printf '[build-test-images] ERROR: %s\n' "$*" >&2; exit 1; }

# RFC 3339 time N minutes after EPOCH: each layer gets its own fixed time.
ts() { date -u -d "@$((EPOCH + ${1:-0} * 60))" +%Y-%m-%dT%H:%M:%SZ; }

# ------------------------------------------------------------------ setup

# Fail early, naming the Debian package that provides each missing tool.
require_tools() {
  local missing=() pkgs=() pair cmd pkg
  for pair in debootstrap:debootstrap gpgv:gpgv wget:wget umoci:umoci skopeo:skopeo \
      rpm:rpm rpmbuild:rpm db5.3_load:db5.3-util python3:python3 dpkg-deb:dpkg \
      dpkg-query:dpkg apt-get:apt tar:tar gzip:gzip chroot:coreutils flock:util-linux \
      setsid:util-linux findmnt:util-linux; do
    cmd=${pair%%:*} pkg=${pair#*:}
    command -v "$cmd" >/dev/null 2>&1 || { missing+=("$cmd"); pkgs+=("$pkg"); }
  done
  if [[ ! -f /usr/share/keyrings/debian-archive-keyring.gpg ]]; then
    missing+=(/usr/share/keyrings/debian-archive-keyring.gpg); pkgs+=(debian-archive-keyring)
  fi
  if command -v python3 >/dev/null 2>&1 && ! python3 -c 'import sqlite3' 2>/dev/null; then
    missing+=("python3's sqlite3 module"); pkgs+=(python3)   # e.g. a python3 without sqlite3
  fi
  if ((${#missing[@]})); then
    die "missing ${missing[*]}; install with: apt-get install -y $(printf '%s\n' "${pkgs[@]}" | sort -u | tr '\n' ' ')"
  fi
  [[ $(id -u) == 0 ]] || die "must run as root (debootstrap, chroot, umoci keep file ownership)"
}

# Unmount everything below a directory, deepest first (debootstrap mounts
# proc/sys inside its target and leaves them behind if it is interrupted).
umount_below() {
  local dir=$1 mnt
  [[ -d $dir ]] || return 0
  findmnt -rn -o TARGET | awk -v d="$dir/" 'index($0, d) == 1' | sort -r |
    while read -r mnt; do umount -l "$mnt" 2>/dev/null || true; done
}

cleanup() {
  local rc=$?
  if [[ -n $BG_PID ]] && kill -0 "$BG_PID" 2>/dev/null; then
    kill -TERM -- "-$BG_PID" 2>/dev/null || true   # the whole group: wget, chroot'd dpkg...
    wait "$BG_PID" 2>/dev/null || true
  fi
  if [[ -n $WORK && -d $WORK ]]; then
    umount_below "$WORK"
    rm -rf --one-file-system "$WORK"
  fi
  exit "$rc"
}

# Remove temp dirs of builds that were killed too hard for their trap to run.
remove_stale_work_dirs() {
  local d
  for d in "$CACHE_ROOT"/.v*.tmp.*; do
    [[ -e $d ]] || continue
    log "removing stale $d"
    umount_below "$d"
    rm -rf --one-file-system "$d"
  done
}

# Run a long command in its own process group and wait for it: a signal
# interrupts the wait at once, and cleanup() kills that group by its id
# (debootstrap's shell would otherwise wait for its current wget first).
run_interruptible() {
  setsid "$@" &
  BG_PID=$!
  local rc=0
  wait "$BG_PID" || rc=$?
  BG_PID=""
  return "$rc"
}

# ------------------------------------------------------------------ rootfs

# debootstrap is the slow step (~30 s), and its result is the same for every
# VERSION, so its raw rootfs is kept as a tar next to the versioned dirs.
# It runs inside $WORK, so an interrupted debootstrap is cleaned up with it;
# the tar appears under its final name only once complete (rename).
ensure_debootstrap_tar() {
  [[ -f $DEBOOTSTRAP_TAR ]] && return 0
  local tmp=$WORK/tmp/debootstrap
  mkdir -p "$tmp"
  log "debootstrap --variant=minbase $SUITE (once per cache root)"
  if ! run_interruptible debootstrap --variant=minbase "$SUITE" "$tmp/root" "$MIRROR" >"$tmp/log" 2>&1; then
    tail -n 30 "$tmp/log" >&2
    die "debootstrap failed (the end of its log is above)"
  fi
  umount_below "$tmp"   # debootstrap unmounts proc/sys itself; make sure
  tar --numeric-owner --xattrs -C "$tmp/root" -cf "$tmp/rootfs.tar" .
  mv -f "$tmp/rootfs.tar" "$DEBOOTSTRAP_TAR"
  rm -rf --one-file-system "$tmp"
}

extract_base_rootfs() {
  local dest=$1
  mkdir -p "$dest"
  tar --numeric-owner --xattrs -xpf "$DEBOOTSTRAP_TAR" -C "$dest"
}

# Make the rootfs look like an official Docker image (debian:bookworm-slim):
# no apt caches/lists, no device nodes, no host files (hostname, resolv.conf),
# no man pages, docs (but copyright files) or translations, and a dpkg config
# that keeps later installs slim too.
slim_rootfs() {
  local root=${1:?}
  [[ $root != / ]] || die "slim_rootfs: refusing to touch /"
  rm -rf "${root:?}"/var/cache/apt/archives/*.deb "${root:?}"/var/cache/apt/*.bin \
    "${root:?}"/var/lib/apt/lists/* "${root:?}"/dev/* "${root:?}"/run/* "${root:?}"/tmp/* \
    "${root:?}"/var/cache/ldconfig/aux-cache "${root:?}"/var/log/bootstrap.log \
    "${root:?}"/etc/hostname "${root:?}"/etc/resolv.conf  # copied from the build host
  mkdir -p "$root"/var/lib/apt/lists/partial
  forget_run_state "$root"
  rm -rf "${root:?}"/usr/share/man/* "${root:?}"/usr/share/info/* "${root:?}"/usr/share/locale/* \
    "${root:?}"/usr/share/lintian/* "${root:?}"/usr/share/groff/*
  find "$root"/usr/share/doc -mindepth 2 ! -type d ! -name copyright -delete
  find "$root"/usr/share/doc -mindepth 1 -type d -empty -delete
  cat >"$root"/etc/dpkg/dpkg.cfg.d/docker-slim <<'EOF'
# Added by tally's build-test-images.sh, as debian:*-slim images do.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/groff/*
EOF
}

# Files written during the build carry "now": clamp them to EPOCH so layer
# tars do not change with the time of the build.
clamp_mtimes() {
  find "$1" -xdev -newermt "@$EPOCH" -print0 | xargs -0r touch -h -d "@$EPOCH"
}

# Fetch .debs for the host's Debian 12 sources (same suite as the rootfs).
# If the host has no package lists yet, refresh them once and retry.
download_debs() {
  local dest=$1; shift
  mkdir -p "$dest"
  if ! (cd "$dest" && apt-get download -q "$@") >/dev/null 2>&1; then
    log "apt-get download failed; running apt-get update once"
    apt-get update -q >/dev/null
    (cd "$dest" && apt-get download -q "$@") >/dev/null || die "apt-get download $* failed"
  fi
}

# ------------------------------------------------------------------ OCI

oci_new() {  # LAYOUT BUNDLE: empty image tagged latest, unpacked to BUNDLE
  umoci init --layout "$1"
  umoci new --image "$1:latest"
  umoci unpack --image "$1:latest" "$2"
}

# Commit the changes made in BUNDLE/rootfs as one new layer with its own
# history entry; --refresh-bundle makes the next commit diff against this one.
oci_commit() {  # LAYOUT BUNDLE MINUTE CREATED_BY
  clamp_mtimes "$2/rootfs"
  umoci repack --refresh-bundle --image "$1:latest" \
    --history.created "$(ts "$3")" --history.created_by "$4" "$2"
}

# Config-only step (ENV/CMD): umoci records it as an empty_layer history entry.
oci_config() {  # LAYOUT MINUTE CREATED_BY umoci-config-args...
  local layout=$1 minute=$2 created_by=$3; shift 3
  umoci config --image "$layout:latest" --history.created "$(ts "$minute")" \
    --history.created_by "$created_by" "$@"
}

# Fix the image's own created time (umoci sets "now") and drop unused blobs.
# umoci writes blobs mode 0600; make the layout readable by non-root tests.
oci_finish() {  # LAYOUT MINUTE
  umoci config --image "$1:latest" --created "$(ts "$2")" --no-history
  umoci gc --layout "$1"
  chmod -R a+rX "$1"
}

# `tar -C LAYOUT -cf FILE .`, with fixed order, owners and times.
layout_to_tar() {  # LAYOUT FILE
  tar -C "$1" --sort=name --mtime="@$EPOCH" --owner=0 --group=0 --numeric-owner -cf "$2" .
}

to_docker_archive() {  # LAYOUT FILE NAME:TAG
  skopeo --insecure-policy copy -q "oci:$1:latest" "docker-archive:$2:$3"
}

dpkg_list() {  # ROOTFS: what dpkg thinks is installed, sorted
  dpkg-query --admindir="$1/var/lib/dpkg" -W -f '${Package} ${Version} ${Architecture}\n' | LC_ALL=C sort
}

# ------------------------------------------------------------------ images

# 1. debian12: one layer holding the slimmed debootstrap rootfs, in every
#    archive form a scanner meets.
build_debian12() {
  local dir=$WORK/debian12 b=$WORK/tmp/debian12-bundle
  log "debian12: single-layer image"
  mkdir -p "$dir"
  oci_new "$dir/oci" "$b"
  extract_base_rootfs "$b/rootfs"
  slim_rootfs "$b/rootfs"
  oci_commit "$dir/oci" "$b" 0 "/bin/sh -c #(nop) ADD file:debootstrap-$SUITE-minbase.tar in / "
  oci_config "$dir/oci" 1 '/bin/sh -c #(nop)  ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  oci_config "$dir/oci" 2 '/bin/sh -c #(nop)  CMD ["bash"]' --config.cmd bash
  oci_finish "$dir/oci" 2
  mv "$b/rootfs" "$dir/rootfs"
  dpkg_list "$dir/rootfs" >"$dir/expected-dpkg.txt"

  layout_to_tar "$dir/oci" "$dir/oci.tar"
  to_docker_archive "$dir/oci" "$dir/docker-archive.tar" tally-test/debian12:latest
  python3 "$HELPER" docker25 "$dir/oci" "$dir/docker25.tar" tally-test/debian12:latest
  skopeo --insecure-policy copy -q --dest-compress-format zstd "oci:$dir/oci:latest" "oci:$dir/oci-zstd:latest"
  python3 "$HELPER" expected "$dir/expected.json" --layout "$dir/oci" \
    --packages "$dir/expected-dpkg.txt" --facts "{\"os\": {\"id\": \"debian\", \"versionId\": \"12\"}, \"dpkgStatus\": \"/var/lib/dpkg/status\"}"
}

# Run a command chrooted into ROOTFS. No /proc or bind mounts are needed for
# dpkg with these packages; but maintainer scripts write to /dev/null, which
# slim_rootfs removed, so a real device node is made for the duration (else
# they would create a plain file /dev/null that ends up in the layer).
in_chroot() {  # ROOTFS CMD...
  local root=$1; shift
  [[ -e $root/dev/null ]] || mknod -m 666 "$root/dev/null" c 1 3
  chroot "$root" "$@" >/dev/null
  rm -f "$root/dev/null"
  forget_run_state "$root"
}

# Logs and ldconfig's aux-cache carry wall-clock times and inode numbers:
# empty them (as debuerreotype does for Docker's debian images) so that
# rebuilding gives the same layers.
forget_run_state() {  # ROOTFS
  find "$1/var/log" -type f -exec truncate -s 0 {} +
  rm -f "$1/var/cache/ldconfig/aux-cache"
}

chroot_dpkg_install() {  # ROOTFS DEB...
  local root=$1; shift
  cp "$@" "$root/tmp/"
  in_chroot "$root" sh -c 'dpkg -i /tmp/*.deb'
  rm -f "$root"/tmp/*.deb
}

chroot_dpkg_purge() {  # ROOTFS PKG...
  local root=$1; shift
  in_chroot "$root" dpkg --purge "$@"
}

# 2. debian12-layers: the debian12 image plus four layers that install and
#    remove packages, so a scanner must attribute packages to layers.
build_debian12_layers() {
  local dir=$WORK/debian12-layers b=$WORK/tmp/layers-bundle debs=$WORK/tmp/debs
  log "debian12-layers: install/purge layers"
  mkdir -p "$dir"
  cp -a "$WORK/debian12/oci" "$dir/oci"   # layer 0 is debian12's layer, same digest
  umoci unpack --image "$dir/oci:latest" "$b"

  chroot_dpkg_install "$b/rootfs" "$debs"/libonig5_*.deb "$debs"/libjq1_*.deb "$debs"/jq_*.deb "$debs"/less_*.deb
  oci_commit "$dir/oci" "$b" 10 '/bin/sh -c apt-get update && apt-get install -y jq less && rm -rf /var/lib/apt/lists/*'
  chroot_dpkg_purge "$b/rootfs" less
  oci_commit "$dir/oci" "$b" 11 '/bin/sh -c dpkg --purge less'
  chroot_dpkg_purge "$b/rootfs" jq
  oci_commit "$dir/oci" "$b" 12 '/bin/sh -c dpkg --purge jq'
  chroot_dpkg_install "$b/rootfs" "$debs"/jq_*.deb
  oci_commit "$dir/oci" "$b" 13 '/bin/sh -c apt-get update && apt-get install -y jq && rm -rf /var/lib/apt/lists/*'
  oci_finish "$dir/oci" 13

  dpkg_list "$b/rootfs" >"$dir/expected-dpkg.txt"
  to_docker_archive "$dir/oci" "$dir/docker-archive.tar" tally-test/debian12-layers:latest
  python3 "$HELPER" expected "$dir/expected.json" --layout "$dir/oci" --packages "$dir/expected-dpkg.txt" --facts '{
    "os": {"id": "debian", "versionId": "12"},
    "layerIndexBase": 0,
    "steps": ["0: debian12 base", "1: dpkg -i libonig5 libjq1 jq less", "2: dpkg --purge less",
              "3: dpkg --purge jq (libjq1, libonig5 stay)", "4: dpkg -i jq"],
    "expectedLayerOfPackage": {"jq": 4, "libjq1": 1, "libonig5": 1, "less": null}
  }'
  # The final rootfs must agree with the facts written above.
  if ! grep -q '^jq ' "$dir/expected-dpkg.txt" || ! grep -q '^libjq1 ' "$dir/expected-dpkg.txt" ||
      grep -q '^less ' "$dir/expected-dpkg.txt"; then
    die "debian12-layers: unexpected final package set"
  fi
}

# Extract one .deb the way distroless does (no dpkg database, no scripts):
# files into ROOT, control paragraph to status.d/<pkg>, md5sums beside it.
# The member list is kept in FILES_DIR/<pkg> so the package can be removed.
distroless_add_deb() {  # ROOT DEB FILES_DIR
  local root=$1 deb=$2 files=$3 pkg ctl
  local -a excludes=(--exclude='./usr/share/man/*' --exclude='./usr/share/locale/*'
    --exclude='./usr/share/info/*' --exclude='./usr/share/lintian/*')
  pkg=$(dpkg-deb -f "$deb" Package)
  ctl=$(mktemp -d "$WORK/tmp/ctl.XXXXXX")
  # --keep-directory-symlink keeps the merged-/usr links (lib -> usr/lib).
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$root" --keep-directory-symlink --numeric-owner \
    --wildcards "${excludes[@]}"
  dpkg-deb --fsys-tarfile "$deb" | tar -t --wildcards "${excludes[@]}" >"$files/$pkg"
  dpkg-deb -e "$deb" "$ctl"
  cp "$ctl/control" "$root/var/lib/dpkg/status.d/$pkg"
  if [[ -f $ctl/md5sums ]]; then cp "$ctl/md5sums" "$root/var/lib/dpkg/status.d/$pkg.md5sums"; fi
  rm -rf "$ctl"
}

# Skeleton of a distroless rootfs: merged-/usr links, users, empty status.d.
distroless_skeleton() {
  local root=$1 d
  mkdir -p "$root"/usr/{bin,sbin,lib,lib64} "$root"/{etc,tmp,root,home/nonroot,var/lib/dpkg/status.d}
  for d in bin sbin lib lib64; do ln -s "usr/$d" "$root/$d"; done
  chmod 1777 "$root/tmp"; chmod 700 "$root/root"; chown 65532:65532 "$root/home/nonroot"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\ntty:x:5:\nstaff:x:50:\nnonroot:x:65532:\n' >"$root/etc/group"
}

# 3. distroless: packages described by /var/lib/dpkg/status.d/<pkg> files
#    only; layer 1 removes netbase so the layer holds whiteouts.
build_distroless() {
  local dir=$WORK/distroless b=$WORK/tmp/distroless-bundle debs=$WORK/tmp/debs pkg deb f
  local archive=$WORK/tmp/debian12-archives files=$WORK/tmp/distroless-files
  log "distroless: status.d packages"
  mkdir -p "$dir" "$archive" "$files"
  # The .debs debootstrap downloaded are in its cached rootfs.
  tar -xf "$DEBOOTSTRAP_TAR" -C "$archive" --wildcards './var/cache/apt/archives/*.deb'
  oci_new "$dir/oci" "$b"
  distroless_skeleton "$b/rootfs"
  for pkg in base-files libc6 libssl3 netbase tzdata zlib1g; do
    deb=$(compgen -G "$archive/var/cache/apt/archives/${pkg}_*.deb" || compgen -G "$debs/${pkg}_*.deb" || true)
    [[ -n $deb && $deb != *$'\n'* ]] || die "distroless: need exactly one .deb for $pkg, found: ${deb:-none}"
    distroless_add_deb "$b/rootfs" "$deb" "$files"
  done
  [[ -e $b/rootfs/etc/os-release ]] || die "distroless: /etc/os-release missing"
  oci_commit "$dir/oci" "$b" 0 'bazel build //base:static_root_amd64_debian12 (simulated: dpkg-deb -x of 6 packages)'

  # Remove netbase: its files (not directories) and status.d entries, so
  # that umoci writes .wh.<name> whiteouts in the layer.
  while read -r f; do
    [[ -d $b/rootfs/$f ]] || rm -f "$b/rootfs/$f"
  done <"$files/netbase"
  rm -rf "$b/rootfs/usr/share/doc/netbase"
  rm -f "$b/rootfs/var/lib/dpkg/status.d/netbase" "$b/rootfs/var/lib/dpkg/status.d/netbase.md5sums"
  oci_commit "$dir/oci" "$b" 1 '/bin/sh -c rm -rf /etc/protocols /etc/services /etc/rpc /etc/ethertypes /var/lib/dpkg/status.d/netbase*'
  oci_config "$dir/oci" 2 'USER 65532:65532' --config.user 65532:65532
  oci_finish "$dir/oci" 2

  [[ ! -e $b/rootfs/var/lib/dpkg/status ]] || die "distroless: must not have /var/lib/dpkg/status"
  to_docker_archive "$dir/oci" "$dir/docker-archive.tar" tally-test/distroless:latest
  python3 "$HELPER" expected "$dir/expected.json" --layout "$dir/oci" --statusd "$b/rootfs/var/lib/dpkg/status.d" --facts '{
    "os": {"id": "debian", "versionId": "12"},
    "dpkgStatus": null,
    "statusD": "/var/lib/dpkg/status.d",
    "removedInLayer1": ["netbase"],
    "expectedLayerOfPackage": {"base-files": 0, "libc6": 0, "libssl3": 0, "tzdata": 0, "zlib1g": 0, "netbase": null}
  }'
}

# One tiny package per spec: NAME EPOCH VERSION RELEASE ARCH LICENSE VENDOR FILE
write_spec() {
  local name=$1 epoch=$2 version=$3 release=$4 arch=$5 license=$6 vendor=$7 file=$8
  {
    echo "Name: $name"
    [[ $epoch != 0 ]] && echo "Epoch: $epoch"
    cat <<EOF
Version: $version
Release: $release
Summary: Tally test package $name
License: $license
Vendor: $vendor
URL: https://example.invalid/$name
BuildArch: $arch

%description
Tiny package built by tally's tools/build-test-images.sh; installs $file.

%install
mkdir -p %{buildroot}$(dirname "$file")
echo '$name $version-$release' > %{buildroot}$file

%files
$file
EOF
  } >"$WORK/tmp/rpm/$name.spec"
}

# Build the RPMs (once) and return their paths in RPMS.
build_rpms() {
  local top=$WORK/tmp/rpm/top spec
  mkdir -p "$top"
  write_spec tally-hello 0 1.0 1.el9 noarch MIT 'Tally Test' /usr/share/tally/hello.txt
  write_spec tally-epoch 2 3.1 4.el9 x86_64 Apache-2.0 'Tally Test' /usr/lib64/tally/epoch.txt
  write_spec tally-prerelease 0 2.0~rc1 1.el9 noarch BSD-3-Clause 'Tally Test' /usr/share/tally/prerelease.txt
  # Real-looking names and versions so advisory matching can be tested.
  write_spec zlib 0 1.2.11 40.el9 x86_64 zlib AlmaLinux /usr/lib64/libz.so.1.2.11
  write_spec openssl-libs 1 3.0.7 27.el9 x86_64 Apache-2.0 AlmaLinux /usr/lib64/libssl.so.3.0.7
  for spec in "$WORK"/tmp/rpm/*.spec; do
    rpmbuild -bb --quiet --define "_topdir $top" --define '_buildhost build.tally.test' \
      --define 'use_source_date_epoch_as_buildtime 1' --define 'clamp_mtime_to_source_date_epoch 1' \
      "$spec" >/dev/null
  done
  RPMS=("$top"/RPMS/*/*.rpm)
  ((${#RPMS[@]} == 5)) || die "rpmbuild produced ${#RPMS[@]} packages, expected 5"
}

# rpm on Debian defaults %_dbpath to ~/.rpmdb; an EL9 system keeps it here.
readonly RPM_DBPATH=/var/lib/rpm

rpm_qa() {  # ROOT BACKEND
  rpm --root "$1" --define "_dbpath $RPM_DBPATH" --define "_db_backend $2" \
    -qa --qf '%{NAME} %{EPOCHNUM}:%{VERSION}-%{RELEASE} %{ARCH}\n' 2> >(grep -v 'warning: could not open' >&2) |
    LC_ALL=C sort
}

almalinux_release_files() {
  local root=$1
  mkdir -p "$root/etc"
  cat >"$root/etc/os-release" <<'EOF'
NAME="AlmaLinux"
VERSION="9.4 (Seafoam Ocelot)"
ID="almalinux"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.4"
PLATFORM_ID="platform:el9"
PRETTY_NAME="AlmaLinux 9.4 (Seafoam Ocelot)"
ANSI_COLOR="0;34"
LOGO="fedora-logo-icon"
CPE_NAME="cpe:/o:almalinux:almalinux:9::baseos"
HOME_URL="https://almalinux.org/"
BUG_REPORT_URL="https://bugs.almalinux.org/"
EOF
  echo 'AlmaLinux release 9.4 (Seafoam Ocelot)' >"$root/etc/almalinux-release"
  ln -s almalinux-release "$root/etc/redhat-release"
  ln -s almalinux-release "$root/etc/system-release"
}

# Install the RPMs into an empty root with a SQLite rpmdb (rpm 4.18 default).
make_rpm_rootfs_sqlite() {
  local root=$1
  mkdir -p "$root"
  almalinux_release_files "$root"
  rpm --root "$root" --define "_dbpath $RPM_DBPATH" --initdb
  rpm --root "$root" --define "_dbpath $RPM_DBPATH" -i --nodeps --noscripts --notriggers \
    --ignorearch --ignoreos "${RPMS[@]}" 2>&1 | grep -v -e 'should not be used directly' -e 'assuming you know' >&2 || true
  [[ $(rpm_qa "$root" sqlite | wc -l) == "${#RPMS[@]}" ]] || die "rpm -qa (sqlite) does not list all packages"
}

# rpm leaves rpmdb.sqlite-wal/-shm and .rpm.lock after every run (even -qa):
# fold the WAL into the database so the image has rpmdb.sqlite alone, still
# in WAL journal mode as rpm left it (and as EL9 images ship it).
finish_rpmdb_sqlite() {
  local root=$1
  python3 "$HELPER" sqlite-checkpoint "$root$RPM_DBPATH/rpmdb.sqlite"
  rm -f "$root$RPM_DBPATH/.rpm.lock"
}

# Same packages in a BerkeleyDB Hash Packages file (EL7/EL8 style).
convert_rpmdb_to_bdb() {
  local root=$1 dump=$WORK/tmp/rpm/Packages.dump
  python3 "$HELPER" rpmdb-dump "$root$RPM_DBPATH/rpmdb.sqlite" "$dump"
  rm -f "$root$RPM_DBPATH"/rpmdb.sqlite* "$root$RPM_DBPATH/.rpm.lock"
  db5.3_load -f "$dump" "$root$RPM_DBPATH/Packages"
  python3 "$HELPER" bdb-scrub "$root$RPM_DBPATH/Packages"
}

oci_from_rootfs() {  # ROOTFS LAYOUT CREATED_BY: single-layer image of a directory
  local layout=$2 b=$WORK/tmp/bundle-$RANDOM
  oci_new "$layout" "$b"
  cp -a "$1/." "$b/rootfs/"
  oci_commit "$layout" "$b" 0 "$3"
  oci_config "$layout" 1 'CMD ["/bin/bash"]' --config.cmd /bin/bash
  oci_finish "$layout" 1
  rm -rf "$b"
}

# 4. rpm-sqlite and rpm-bdb: the same five RPMs in both rpmdb formats.
build_rpm_images() {
  local s=$WORK/rpm-sqlite d=$WORK/rpm-bdb
  log "rpm-sqlite, rpm-bdb: rpmbuild + rpm --root"
  mkdir -p "$WORK/tmp/rpm" "$s" "$d"
  build_rpms
  make_rpm_rootfs_sqlite "$s/rootfs"
  rpm_qa "$s/rootfs" sqlite >"$s/expected-rpm.txt"
  cp -a "$s/rootfs" "$d/rootfs"
  finish_rpmdb_sqlite "$d/rootfs"
  convert_rpmdb_to_bdb "$d/rootfs"
  rpm_qa "$d/rootfs" bdb_ro >"$d/expected-rpm.txt"
  cmp -s "$s/expected-rpm.txt" "$d/expected-rpm.txt" || die "bdb rpmdb lists different packages than sqlite"
  finish_rpmdb_sqlite "$s/rootfs"
  rm -f "$d/rootfs$RPM_DBPATH/.rpm.lock"

  local kind dir backend dbfile
  for kind in sqlite bdb; do
    dir=$WORK/rpm-$kind
    if [[ $kind == sqlite ]]; then
      backend=sqlite dbfile=$RPM_DBPATH/rpmdb.sqlite
    else
      backend=bdb_ro dbfile=$RPM_DBPATH/Packages
    fi
    clamp_mtimes "$dir/rootfs"
    oci_from_rootfs "$dir/rootfs" "$dir/oci" "/bin/sh -c #(nop) ADD file:almalinux-9.4-rpm-$kind.tar in / "
    to_docker_archive "$dir/oci" "$dir/docker-archive.tar" "tally-test/rpm-$kind:latest"
    python3 "$HELPER" expected "$dir/expected.json" --layout "$dir/oci" --packages "$dir/expected-rpm.txt" --format rpm \
      --facts "{\"os\": {\"id\": \"almalinux\", \"versionId\": \"9.4\"}, \"rpmdbBackend\": \"$backend\", \"rpmdbPath\": \"$dbfile\", \"rpmQaBackendDefine\": \"_db_backend $backend\"}"
  done
}

# 5. multiarch: nested OCI index with linux/amd64 and linux/arm64 images.
build_multiarch() {
  local dir=$WORK/multiarch
  log "multiarch: nested index amd64 + arm64"
  mkdir -p "$dir"
  local facts
  facts=$(python3 "$HELPER" multiarch "$WORK/debian12/oci" "$dir/oci" --created "$(ts 30)" --epoch "$((EPOCH + 1800))")
  # Both platforms hold debian12's rootfs, so the same dpkg packages (arch
  # amd64 even in the arm64 image: only its config says arm64).
  python3 "$HELPER" expected "$dir/expected.json" --facts "$facts" --packages "$WORK/debian12/expected-dpkg.txt"
  layout_to_tar "$dir/oci" "$dir/multiarch.tar"
}

# ------------------------------------------------------------------ main

# ------------------------------------------------------------------ Debian 11 before a DSA

# A Debian 11 image as it was before two security advisories: real bullseye packages (fetched through a private
# apt list, so the host's sources are untouched), with the dpkg status giving zlib1g and libssl1.1 the versions
# their own changelogs list just below the fixes of DSA-5218-1 (zlib, an epoch version) and DSA-5343-1 (openssl,
# a binary named differently from its source). The advisory data in ../shared/vulndb ends in 2023; current
# bullseye packages are past every fix in it, so an image of the time is rebuilt from the packages' own history.
apt_bullseye() {  # ARGS...: apt-get with a private bullseye source list and state
  local d=$WORK/tmp/apt-bullseye
  apt-get -q -o Dir::Etc::SourceList="$d/sources.list" -o Dir::Etc::SourceParts=- -o Dir::State::Lists="$d/lists" \
    -o Dir::Cache="$d/cache" -o Dir::State::Status=/dev/null -o APT::Architecture=amd64 "$@"
}

build_debian11_dsa() {
  local dir=$WORK/debian11-dsa d=$WORK/tmp/apt-bullseye root=$WORK/tmp/debian11-root deb
  log "debian11-dsa"
  mkdir -p "$d/lists/partial" "$d/cache/archives/partial" "$d/debs" "$dir" "$root/var/lib/dpkg"
  echo "deb http://deb.debian.org/debian bullseye main" >"$d/sources.list"
  apt_bullseye update >/dev/null
  (cd "$d/debs" && apt_bullseye download base-files zlib1g libssl1.1 libc6 libgcc-s1 gcc-10-base >/dev/null)
  for deb in "$d"/debs/*.deb; do dpkg-deb -x "$deb" "$root"; done
  python3 "$HELPER" old-status "$root/var/lib/dpkg/status" "$d"/debs/*.deb \
    --before zlib1g=1:1.2.11.dfsg-2+deb11u2 --before libssl1.1=1.1.1n-0+deb11u4 >"$d/chosen.json"
  oci_from_rootfs "$root" "$dir/oci" "/bin/sh -c #(nop) ADD file:debian-bullseye-before-dsa in /"
  to_docker_archive "$dir/oci" "$dir/docker-archive.tar" "tally-test/debian11-dsa:latest"
  python3 "$HELPER" expected "$dir/expected.json" --layout "$dir/oci" \
    --facts "{\"os\":{\"id\":\"debian\",\"versionId\":\"11\"},\"downgraded\":$(cat "$d/chosen.json"),\"expectedFindings\":{\"zlib1g\":[\"CVE-2022-37434\"],\"libssl1.1\":[\"CVE-2022-2097\",\"CVE-2022-4304\",\"CVE-2022-4450\",\"CVE-2023-0215\",\"CVE-2023-0286\"]}}"
  rm -rf --one-file-system "$root"
}

# ------------------------------------------------------------------ SCA

# One image per language ecosystem: the debian12 base plus one layer made by tools/sca/<eco>.sh, which installs
# real artifacts (Debian packages, npm installs, documented .NET layouts) and writes <eco>-expected.json next to
# the rootfs, derived without Tally.
build_sca_image() {  # ECO MINUTE
  local eco=$1 minute=$2 dir=$WORK/sca-$eco bundle=$WORK/tmp/sca-$eco
  log "sca-$eco"
  mkdir -p "$dir"
  cp -a "$WORK/debian12/oci" "$dir/oci"
  umoci unpack --image "$dir/oci:latest" "$bundle"
  bash "$SCRIPT_DIR/sca/$eco.sh" "$bundle/rootfs"
  forget_run_state "$bundle/rootfs"
  oci_commit "$dir/oci" "$bundle" "$minute" "/bin/sh -c tools/sca/$eco.sh  # $eco test artifacts"
  oci_finish "$dir/oci" "$minute"
  to_docker_archive "$dir/oci" "$dir/docker-archive.tar" "tally-test/sca-$eco:latest"
  cp "$bundle"/*-expected.json "$dir/"
  rm -rf --one-file-system "$bundle"
}

build_sca_images() {
  local eco minute=40
  for eco in java python go node dotnet; do
    build_sca_image "$eco" "$minute"
    minute=$((minute + 1))
  done
}

main() {
  require_tools
  mkdir -p "$CACHE_ROOT"
  # One builder at a time per cache root; others wait and then reuse its result.
  exec 9>"$CACHE_ROOT/.lock"
  flock -w 1800 9 || die "timed out waiting for another build (lock $CACHE_ROOT/.lock)"
  if [[ -f $OUT/.complete ]]; then echo "$OUT" >&3; return 0; fi
  remove_stale_work_dirs

  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  local start=$SECONDS
  WORK=$(mktemp -d "$CACHE_ROOT/.v$VERSION.tmp.XXXXXX")
  mkdir -p "$WORK/tmp"

  ensure_debootstrap_tar
  download_debs "$WORK/tmp/debs" jq libjq1 libonig5 less netbase libssl3
  build_debian12
  build_debian12_layers
  build_distroless
  build_rpm_images
  build_multiarch
  build_debian11_dsa
  build_sca_images

  rm -rf --one-file-system "$WORK/tmp"
  [[ -f $README_SRC ]] && cp "$README_SRC" "$WORK/README.md"
  echo "$VERSION" >"$WORK/.complete"
  chmod 755 "$WORK"   # mktemp made it 0700
  rm -rf --one-file-system "$OUT"   # only an incomplete leftover can be here
  mv -T "$WORK" "$OUT"   # atomic: readers see all or nothing
  WORK=""
  log "done in $((SECONDS - start)) s"
  echo "$OUT" >&3
}

main "$@"
