#!/usr/bin/env python3
"""Helpers for tools/build-test-images.sh (standard library only).

Each subcommand does one job that is awkward in bash: JSON surgery on OCI
layouts, writing tar files with fixed metadata, and turning an rpm SQLite
database into a Berkeley DB dump. Run `test_images.py SUBCOMMAND --help`.
"""

import argparse
import gzip
import hashlib
import io
import json
import os
import shutil
import sqlite3
import struct
import subprocess
import sys
import tarfile

MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
MT_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
REF_NAME = "org.opencontainers.image.ref.name"


# ---------------------------------------------------------------- OCI helpers

def blob_path(layout, digest):
    algo, hexd = digest.split(":", 1)
    return os.path.join(layout, "blobs", algo, hexd)


def read_json_blob(layout, digest):
    with open(blob_path(layout, digest), "rb") as f:
        return json.load(f)


def canonical_json(obj):
    """Compact JSON with sorted keys, so blob digests are stable across runs."""
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


def write_blob(layout, data):
    """Store bytes as a content-addressed blob and return (digest, size)."""
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    path = blob_path(layout, digest)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return digest, len(data)


def find_manifest_desc(layout, tag):
    with open(os.path.join(layout, "index.json")) as f:
        index = json.load(f)
    for desc in index["manifests"]:
        if desc.get("annotations", {}).get(REF_NAME) == tag:
            return desc
    sys.exit(f"test_images.py: tag {tag!r} not found in {layout}/index.json")


def image_summary(layout, tag="latest"):
    """Digests, layers and history of a single-platform image in a layout.

    Each layer gets the history entry that created it (entries marked
    empty_layer are skipped when pairing, as Docker does).
    """
    mdesc = find_manifest_desc(layout, tag)
    manifest = read_json_blob(layout, mdesc["digest"])
    config = read_json_blob(layout, manifest["config"]["digest"])
    history = config.get("history", [])
    layer_history = [h for h in history if not h.get("empty_layer")]
    layers = []
    for i, ldesc in enumerate(manifest["layers"]):
        h = layer_history[i] if i < len(layer_history) else {}
        layers.append({
            "index": i,
            "digest": ldesc["digest"],
            "diffId": config["rootfs"]["diff_ids"][i],
            "mediaType": ldesc["mediaType"],
            "size": ldesc["size"],
            "createdBy": h.get("created_by"),
            "created": h.get("created"),
        })
    return {
        "manifestDigest": mdesc["digest"],
        "configDigest": manifest["config"]["digest"],
        "imageId": manifest["config"]["digest"],
        "created": config.get("created"),
        "os": config.get("os"),
        "architecture": config.get("architecture"),
        "layers": layers,
        "history": history,
    }


def tar_add_bytes(tar, name, data, mode=0o644, mtime=0):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    info.mtime = mtime
    info.uname = info.gname = ""
    tar.addfile(info, io.BytesIO(data))


def tar_add_dir(tar, name, mtime=0):
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    info.mtime = mtime
    tar.addfile(info)


# ---------------------------------------------------------------- subcommands

def cmd_summary(args):
    """Print the image summary (used for expected.json and for checks)."""
    json.dump(image_summary(args.layout, args.tag), sys.stdout, indent=2)
    sys.stdout.write("\n")


def cmd_docker25(args):
    """Write the tar that `docker save` of Docker Engine 25+ produces.

    It is an OCI layout (oci-layout, index.json, blobs/sha256/...) with
    uncompressed layer blobs, plus the legacy manifest.json and repositories
    files that point into blobs/. skopeo 1.9 cannot decompress into an oci:
    destination (--dest-decompress is for dir: only), so the gzip layers of
    the umoci layout are decompressed here.
    """
    repo, tag = args.ref.rsplit(":", 1)
    src = args.layout
    mdesc = find_manifest_desc(src, args.tag)
    manifest = read_json_blob(src, mdesc["digest"])
    with open(blob_path(src, manifest["config"]["digest"]), "rb") as f:
        config_bytes = f.read()
    config = json.loads(config_bytes)

    blobs = {}  # digest -> bytes (whole image is small enough for memory)
    layer_descs = []
    for ldesc in manifest["layers"]:
        with open(blob_path(src, ldesc["digest"]), "rb") as f:
            data = f.read()
        if ldesc["mediaType"].endswith("+gzip"):
            data = gzip.decompress(data)
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        blobs[digest] = data
        layer_descs.append({"mediaType": MT_LAYER_TAR, "digest": digest, "size": len(data)})
    if [d["digest"] for d in layer_descs] != config["rootfs"]["diff_ids"]:
        sys.exit("test_images.py docker25: decompressed layers do not match diff_ids")

    config_digest = "sha256:" + hashlib.sha256(config_bytes).hexdigest()
    blobs[config_digest] = config_bytes
    platform = {"architecture": config["architecture"], "os": config["os"]}
    new_manifest = {
        "schemaVersion": 2,
        "mediaType": MT_MANIFEST,
        "config": {"mediaType": MT_CONFIG, "digest": config_digest, "size": len(config_bytes)},
        "layers": layer_descs,
    }
    # Docker marshals with Go's encoding/json (struct field order, compact).
    manifest_bytes = json.dumps(new_manifest, separators=(",", ":")).encode()
    manifest_digest = "sha256:" + hashlib.sha256(manifest_bytes).hexdigest()
    blobs[manifest_digest] = manifest_bytes

    full_name = repo if "/" in repo and "." in repo.split("/")[0] else "docker.io/" + repo
    index = {
        "schemaVersion": 2,
        "mediaType": MT_INDEX,
        "manifests": [{
            "mediaType": MT_MANIFEST,
            "digest": manifest_digest,
            "size": len(manifest_bytes),
            "annotations": {
                "io.containerd.image.name": f"{full_name}:{tag}",
                REF_NAME: tag,
            },
            "platform": platform,
        }],
    }
    legacy_manifest = [{
        "Config": "blobs/sha256/" + config_digest.split(":")[1],
        "RepoTags": [f"{repo}:{tag}"],
        "Layers": ["blobs/sha256/" + d["digest"].split(":")[1] for d in layer_descs],
    }]
    # Docker writes the top layer's diff ID (hex) as the legacy image id here.
    repositories = {repo: {tag: layer_descs[-1]["digest"].split(":")[1]}}

    with tarfile.open(args.out, "w", format=tarfile.PAX_FORMAT) as tar:
        tar_add_dir(tar, "blobs")
        tar_add_dir(tar, "blobs/sha256")
        for digest in sorted(blobs):
            tar_add_bytes(tar, "blobs/sha256/" + digest.split(":")[1], blobs[digest])
        tar_add_bytes(tar, "index.json", json.dumps(index, separators=(",", ":")).encode())
        tar_add_bytes(tar, "manifest.json", (json.dumps(legacy_manifest, separators=(",", ":")) + "\n").encode())
        tar_add_bytes(tar, "oci-layout", b'{"imageLayoutVersion": "1.0.0"}')
        tar_add_bytes(tar, "repositories", (json.dumps(repositories, separators=(",", ":")) + "\n").encode())


def gzip_tar_layer(files, mtime):
    """Build a small gzip'd tar layer from {path: bytes}; returns (blob, diff_id)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs = sorted({os.path.dirname(p) for p in files if os.path.dirname(p)})
        for d in dirs:
            tar_add_dir(tar, d, mtime)
        for path in sorted(files):
            tar_add_bytes(tar, path, files[path], mtime=mtime)
    raw_bytes = raw.getvalue()
    comp = io.BytesIO()
    with gzip.GzipFile(fileobj=comp, mode="wb", mtime=0) as gz:  # mtime=0: stable digest
        gz.write(raw_bytes)
    return comp.getvalue(), "sha256:" + hashlib.sha256(raw_bytes).hexdigest()


def cmd_multiarch(args):
    """Make an OCI layout whose index.json points to a nested image index.

    linux/amd64 is the source image unchanged; linux/arm64 reuses the same
    layers (the binaries inside are still amd64!) with its own config and one
    extra small layer, so that the two manifests and configs differ.
    """
    src, dest = args.src_layout, args.dest_layout
    if os.path.exists(dest):
        shutil.rmtree(dest)
    os.makedirs(os.path.join(dest, "blobs", "sha256"))
    with open(os.path.join(dest, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')

    mdesc = find_manifest_desc(src, "latest")
    manifest = read_json_blob(src, mdesc["digest"])
    config = read_json_blob(src, manifest["config"]["digest"])
    # linux/amd64 is the source image byte for byte: same manifest, config
    # and layer digests as the source layout.
    for digest in [mdesc["digest"], manifest["config"]["digest"]] + [l["digest"] for l in manifest["layers"]]:
        shutil.copyfile(blob_path(src, digest), blob_path(dest, digest))
    amd_digest, amd_size = mdesc["digest"], mdesc["size"]
    if config.get("architecture") != "amd64":
        sys.exit("test_images.py multiarch: source image is not linux/amd64")

    def add_manifest(cfg, layers):
        cdigest, csize = write_blob(dest, canonical_json(cfg))
        m = {"schemaVersion": 2, "mediaType": MT_MANIFEST,
             "config": {"mediaType": MT_CONFIG, "digest": cdigest, "size": csize},
             "layers": layers}
        return write_blob(dest, canonical_json(m))

    created = args.created
    extra_blob, extra_diff = gzip_tar_layer(
        {"etc/tally-platform": b"linux/arm64/v8\n"}, mtime=args.epoch)
    extra_digest, extra_size = write_blob(dest, extra_blob)
    arm_cfg = json.loads(json.dumps(config))
    arm_cfg.update(architecture="arm64", variant="v8", os="linux", created=created)
    arm_cfg["rootfs"]["diff_ids"] = config["rootfs"]["diff_ids"] + [extra_diff]
    arm_cfg["history"] = config.get("history", []) + [{
        "created": created,
        "created_by": "/bin/sh -c echo linux/arm64/v8 > /etc/tally-platform",
    }]
    arm_layers = manifest["layers"] + [{"mediaType": MT_LAYER_GZIP, "digest": extra_digest, "size": extra_size}]
    arm_digest, arm_size = add_manifest(arm_cfg, arm_layers)

    nested = {
        "schemaVersion": 2,
        "mediaType": MT_INDEX,
        "manifests": [
            {"mediaType": MT_MANIFEST, "digest": amd_digest, "size": amd_size,
             "platform": {"architecture": "amd64", "os": "linux"}},
            {"mediaType": MT_MANIFEST, "digest": arm_digest, "size": arm_size,
             "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}},
        ],
    }
    ndigest, nsize = write_blob(dest, canonical_json(nested))
    top = {"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": [
        {"mediaType": MT_INDEX, "digest": ndigest, "size": nsize, "annotations": {REF_NAME: "latest"}}]}
    with open(os.path.join(dest, "index.json"), "wb") as f:
        f.write(canonical_json(top))
    json.dump({"refName": "latest", "indexDigest": ndigest, "indexIsNested": True,
               "os": {"id": "debian", "versionId": "12"},
               "platforms": {"linux/amd64": {"manifestDigest": amd_digest, "layers": len(manifest["layers"])},
                             "linux/arm64/v8": {"manifestDigest": arm_digest, "layers": len(arm_layers),
                                                "extraLayerFile": "/etc/tally-platform"}}},
              sys.stdout, indent=2)
    sys.stdout.write("\n")


def cmd_rpmdb_dump(args):
    """Write a `db5.3_load` input (db_dump bytevalue format) for a BDB Packages file.

    rpm's BerkeleyDB Packages database is a Hash keyed by the package
    instance number as a 4-byte native-endian integer, whose value is the
    header blob: the same (hnum, blob) pairs the SQLite backend keeps in its
    Packages table. Key 0 holds the highest instance number in use, as rpm's
    db3 backend wrote it; readers skip it.
    """
    con = sqlite3.connect(args.sqlite)  # a scratch copy: read-write avoids WAL read-only limits
    rows = con.execute("SELECT hnum, blob FROM Packages ORDER BY hnum").fetchall()
    con.close()
    if not rows:
        sys.exit("test_images.py rpmdb-dump: no packages in " + args.sqlite)
    with open(args.out, "w") as f:
        f.write("VERSION=3\nformat=bytevalue\ntype=hash\ndb_pagesize=4096\nHEADER=END\n")
        f.write(" %s\n %s\n" % (struct.pack("<I", 0).hex(), struct.pack("<I", rows[-1][0]).hex()))
        for hnum, blob in rows:
            f.write(" %s\n %s\n" % (struct.pack("<I", hnum).hex(), bytes(blob).hex()))
        f.write("DATA=END\n")


def cmd_bdb_scrub(args):
    """Zero the bytes of a BerkeleyDB hash file that db_load leaves random.

    These are the file's unique id in the meta page, free space in pages and
    the 3 unused bytes of each off-page item (uninitialised memory). No
    reader looks at them; zeroing them makes rebuilt files identical.
    """
    with open(args.file, "r+b") as f:
        data = bytearray(f.read())
        magic, version, pagesize = struct.unpack_from("<III", data, 12)
        if magic != 0x00061561:
            sys.exit("test_images.py bdb-scrub: not a little-endian BDB hash file")
        data[52:72] = bytes(20)  # DBMETA.uid
        for start in range(pagesize, len(data), pagesize):
            nitems, hoffset = struct.unpack_from("<HH", data, start + 20)
            ptype = data[start + 25]
            if ptype in (2, 13):  # hash pages: index array, free space, items
                free_from = start + 26 + 2 * nitems
                data[free_from:start + hoffset] = bytes(start + hoffset - free_from)
                for i in range(nitems):
                    off = start + struct.unpack_from("<H", data, start + 26 + 2 * i)[0]
                    if data[off] == 3:  # H_OFFPAGE: type, 3 unused bytes, pgno, tlen
                        data[off + 1:off + 4] = b"\0\0\0"
            elif ptype == 7:  # overflow page: hoffset = bytes used after the header
                data[start + 26 + hoffset:start + pagesize] = bytes(pagesize - 26 - hoffset)
        f.seek(0)
        f.write(data)


def cmd_sqlite_checkpoint(args):
    """Fold the WAL into the main rpmdb.sqlite so the file alone is complete."""
    con = sqlite3.connect(args.sqlite)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    for suffix in ("-wal", "-shm"):
        if os.path.exists(args.sqlite + suffix):
            os.remove(args.sqlite + suffix)


def read_packages(path, fmt):
    """Parse `name version arch` lines (dpkg-query / rpm -qa output we wrote)."""
    pkgs = []
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            name, version, arch = line.split()
            p = {"name": name, "version": version, "arch": arch}
            if fmt == "rpm":  # version is EPOCHNUM:VERSION-RELEASE
                epoch, vr = version.split(":", 1)
                ver, rel = vr.rsplit("-", 1)
                p.update(epoch=int(epoch), version=ver, release=rel)
            pkgs.append(p)
    return pkgs


def read_statusd(statusd):
    """Packages of a distroless status.d directory (one control paragraph per file)."""
    pkgs = []
    for fn in sorted(os.listdir(statusd)):
        if fn.endswith(".md5sums"):
            continue
        fields = {}
        with open(os.path.join(statusd, fn)) as f:
            for line in f:
                if line[:1] not in (" ", "\t") and ":" in line:
                    k, v = line.split(":", 1)
                    fields[k] = v.strip()
        pkgs.append({"name": fields["Package"], "version": fields["Version"],
                     "arch": fields["Architecture"], "file": "/var/lib/dpkg/status.d/" + fn})
    return pkgs


def cmd_expected(args):
    """Write expected.json: fixed facts (--facts JSON) + image summary + packages."""
    out = json.loads(args.facts) if args.facts else {}
    if args.layout:
        out["image"] = image_summary(args.layout, "latest")
    if args.packages:
        out["packages"] = read_packages(args.packages, args.format)
    if args.statusd:
        out["packages"] = read_statusd(args.statusd)
    with open(args.out, "w") as f:
        json.dump(out, f, indent=2)
        f.write("\n")


def deb_version_key(v):
    """dpkg ordering via `dpkg --compare-versions` (exact, and dpkg is on every Debian host)."""
    import functools
    def cmp(a, b):
        if a == b:
            return 0
        return -1 if subprocess.run(["dpkg", "--compare-versions", a, "lt", b]).returncode == 0 else 1
    return functools.cmp_to_key(cmp)(v)


def cmd_old_status(args):
    """dpkg status for unpacked .debs, as an image had it before a security fix: each package listed in
    --before PKG=FIXED gets the newest version its own changelog.Debian names that sorts below FIXED."""
    before = dict(item.split("=", 1) for item in args.before)
    paragraphs, chosen = [], {}
    for deb in args.debs:
        control = subprocess.run(["dpkg-deb", "-f", deb], check=True, capture_output=True, text=True).stdout.rstrip("\n")
        fields = dict(line.split(": ", 1) for line in control.split("\n") if ": " in line and not line.startswith(" "))
        name = fields["Package"]
        if name in before:
            src = fields.get("Source", name).split(" ")[0]
            log = subprocess.run(["dpkg-deb", "--fsys-tarfile", deb], check=True, capture_output=True).stdout
            with tarfile.open(fileobj=io.BytesIO(log)) as tar:
                member = next(m for m in tar.getmembers() if m.name.endswith(f"/doc/{name}/changelog.Debian.gz"))
                text = gzip.decompress(tar.extractfile(member).read()).decode()
            versions = [line.split("(", 1)[1].split(")", 1)[0] for line in text.split("\n") if line.startswith(src + " (")]
            older = sorted((v for v in versions if deb_version_key(v) < deb_version_key(before[name])), key=deb_version_key)
            if not older:
                sys.exit(f"{name}: no changelog version below {before[name]}")
            old = older[-1]
            chosen[name] = {"from": fields["Version"], "to": old, "fixedBy": before[name]}
            # the Source field names the source version only when it differs from the binary's
            control = control.replace(f"Version: {fields['Version']}", f"Version: {old}")
            if "Source:" in control and "(" in fields.get("Source", ""):
                control = control.replace(fields["Source"], src)
        paragraphs.append(control.replace(f"Package: {name}", f"Package: {name}\nStatus: install ok installed", 1))
    with open(args.out, "w") as f:
        f.write("\n\n".join(paragraphs) + "\n")
    json.dump(chosen, sys.stdout, indent=2)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("summary", help=cmd_summary.__doc__)
    p.add_argument("layout")
    p.add_argument("--tag", default="latest")
    p.set_defaults(fn=cmd_summary)

    p = sub.add_parser("docker25", help=cmd_docker25.__doc__)
    p.add_argument("layout")
    p.add_argument("out")
    p.add_argument("ref", help="repo:tag written to RepoTags")
    p.add_argument("--tag", default="latest", help="tag inside the source layout")
    p.set_defaults(fn=cmd_docker25)

    p = sub.add_parser("multiarch", help=cmd_multiarch.__doc__)
    p.add_argument("src_layout")
    p.add_argument("dest_layout")
    p.add_argument("--created", required=True)
    p.add_argument("--epoch", type=int, required=True)
    p.set_defaults(fn=cmd_multiarch)

    p = sub.add_parser("rpmdb-dump", help=cmd_rpmdb_dump.__doc__)
    p.add_argument("sqlite")
    p.add_argument("out")
    p.set_defaults(fn=cmd_rpmdb_dump)

    p = sub.add_parser("bdb-scrub", help=cmd_bdb_scrub.__doc__)
    p.add_argument("file")
    p.set_defaults(fn=cmd_bdb_scrub)

    p = sub.add_parser("sqlite-checkpoint", help=cmd_sqlite_checkpoint.__doc__)
    p.add_argument("sqlite")
    p.set_defaults(fn=cmd_sqlite_checkpoint)

    p = sub.add_parser("expected", help=cmd_expected.__doc__)
    p.add_argument("out")
    p.add_argument("--facts", help="JSON object merged at the top level")
    p.add_argument("--layout", help="OCI layout to summarise (tag latest)")
    p.add_argument("--packages", help="file of `name version arch` lines")
    p.add_argument("--format", choices=["dpkg", "rpm"], default="dpkg")
    p.add_argument("--statusd", help="distroless status.d directory")
    p.set_defaults(fn=cmd_expected)

    p = sub.add_parser("old-status", help=cmd_old_status.__doc__)
    p.add_argument("out")
    p.add_argument("debs", nargs="+")
    p.add_argument("--before", action="append", default=[], help="PKG=FIXED_VERSION")
    p.set_defaults(fn=cmd_old_status)

    args = ap.parse_args()
    args.fn(args)


if __name__ == "__main__":
    main()
