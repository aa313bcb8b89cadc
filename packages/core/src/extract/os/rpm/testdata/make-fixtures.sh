#!/bin/sh
# Rebuilds the committed rpm database fixtures from specs/ (run by hand; the tests only read the results).
# Needs rpm + rpmbuild 4.18, sqlite3, gpg, python3 and db5.3_load (apt-get install db5.3-util).
#   rpmdb.sqlite      what rpm 4.18 writes (WAL mode), vacuumed to 512-byte pages to stay small
#   Packages          BerkeleyDB hash, little-endian, 4096-byte pages: the layout of rpm < 4.16 databases
#   Packages.be       BerkeleyDB hash, big-endian, 8192-byte pages (so some headers sit on the hash page itself)
#   expected.tsv      `rpm -qa` over each of them (they must agree); expected-files.tsv: the file lists
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for spec in "$here"/specs/*.spec; do
  rpmbuild --quiet --define "_topdir $work/build" -bb "$spec" >/dev/null
done

export GNUPGHOME="$work/gnupg"
mkdir -m 700 "$GNUPGHOME"
gpg --batch --passphrase '' --quick-gen-key 'Tally Fixture <fixture@tally.invalid>' ed25519 sign never 2>/dev/null
gpg --armor --export >"$work/key.asc"

root="$work/root"
db="--root $root --dbpath /var/lib/rpm"
rpm $db --initdb
rpm $db --import "$work/key.asc"   # adds a gpg-pubkey pseudo-package, which the extractor must skip
rpm $db -i --nodeps --noscripts --ignorearch "$work"/build/RPMS/*/*.rpm 2>/dev/null

cp "$root/var/lib/rpm/rpmdb.sqlite" "$here/rpmdb.sqlite"
sqlite3 "$here/rpmdb.sqlite" 'PRAGMA journal_mode=DELETE' 'PRAGMA page_size=512' 'VACUUM' 'PRAGMA journal_mode=WAL' >/dev/null

# db_dump "bytevalue" text: key = instance number (hnum) as 4 bytes in the database's byte order (BerkeleyDB
# stores keys as given, and rpm gave native integers), value = the header blob. Key 0 holds the next instance
# number, as rpm's BDB backend kept it.
dump() {
  python3 - "$here/rpmdb.sqlite" "$1" <<'PY'
import sqlite3, struct, sys
order = '<' if sys.argv[2] == 'le' else '>'
rows = sqlite3.connect(sys.argv[1]).execute('SELECT hnum, blob FROM Packages ORDER BY hnum').fetchall()
print('VERSION=3\nformat=bytevalue\ntype=hash\nHEADER=END')
for hnum, blob in [(0, struct.pack(order + 'I', rows[-1][0] + 1))] + rows:
    print(' ' + struct.pack(order + 'I', hnum).hex())
    print(' ' + bytes(blob).hex())
print('DATA=END')
PY
}
dump le >"$work/dump-le.txt"
dump be >"$work/dump-be.txt"
rm -f "$here/Packages" "$here/Packages.be"
db5.3_load -c db_pagesize=4096 -f "$work/dump-le.txt" "$here/Packages"
db5.3_load -c db_pagesize=8192 -c db_lorder=4321 -f "$work/dump-be.txt" "$here/Packages.be"

# What rpm itself reports, one package a line, and its files; the tests compare the readers with these.
fmt='%{NAME}\t%{EPOCH}\t%{VERSION}\t%{RELEASE}\t%{ARCH}\t%{LICENSE}\t%{VENDOR}\t%{SOURCERPM}\n'
q() { rpm --root "$1" --dbpath /var/lib/rpm --define "_db_backend $2" -qa --qf "$3" | sort; }
check="$work/check"
mkdir -p "$check/var/lib/rpm"
cp "$here/rpmdb.sqlite" "$check/var/lib/rpm/rpmdb.sqlite"
q "$check" sqlite "$fmt" >"$here/expected.tsv"
q "$check" sqlite '[%{=NAME}\t%{FILENAMES}\n]' | grep -v "	(none)$" >"$here/expected-files.tsv"
for f in Packages Packages.be; do
  rm -f "$check"/var/lib/rpm/*
  cp "$here/$f" "$check/var/lib/rpm/Packages"
  q "$check" bdb_ro "$fmt" 2>/dev/null | diff "$here/expected.tsv" - || { echo "rpm reads $f differently" >&2; exit 1; }
done
