/**
 * The CPython version inside an interpreter binary or libpython, found as the file streams past.
 *
 * `PY_VERSION` ("3.11.2", "3.13.0rc1", "3.14.0a1+") is compiled in as its own NUL-terminated string (it feeds
 * `Py_GetVersion()` / `sys.version`). Debian's 6.8 MB `/usr/bin/python3.11` and its `libpython3.11.so.1.0` each hold
 * exactly one `\0 3.11.<patch> \0` string. The major.minor comes from the file name, so the scan looks only for
 * that series: other version-like strings in the binary ("3.2.0" in Debian's) never match. Thin launchers (the
 * python.org `--enable-shared` build used by the official images, Alpine, Fedora) hold no such string: there the
 * version is found in libpython instead.
 */

/** Longest tail after "X.Y.": "0rc1+" etc.; PY_VERSION is short. */
const MAX_TAIL = 16;
/** PY_VERSION's shape after "X.Y.": patch, optional pre-release, optional "+" of a development build. */
const TAIL = /^[0-9]{1,4}(?:(?:a|b|rc)[0-9]{1,3})?\+?$/;
const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);
/** Enough distinct candidates to call the file ambiguous; more are not collected. */
const MAX_CANDIDATES = 8;

export class PythonVersionScanner {
  private readonly needle: Buffer;
  private carry: Buffer = Buffer.alloc(0);
  private head: Buffer = Buffer.alloc(0);
  /** null until the first 4 bytes were seen */
  private elf: boolean | null = null;
  private readonly candidates: string[] = [];
  private readonly series: string;

  /** `series` is "3.11" (from the file name). */
  constructor(series: string) {
    this.series = series;
    this.needle = Buffer.from(`\0${series}.`, 'latin1');
  }

  /** False once the file is known not to be ELF: the caller can stop feeding it. */
  get wanted(): boolean {
    return this.elf !== false;
  }

  push(chunk: Buffer): void {
    if (this.elf === null) {
      this.head = Buffer.concat([this.head, chunk.subarray(0, 4)]);
      if (this.head.length < 4) return;
      this.elf = this.head.subarray(0, 4).equals(ELF_MAGIC);
    }
    if (!this.elf) return;
    this.scan(this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk, false);
  }

  /** Call at the end of the stream; returns the versions found, in file order, without duplicates. */
  finish(): string[] {
    if (this.elf && this.carry.length > 0) this.scan(this.carry, true);
    this.carry = Buffer.alloc(0);
    return [...this.candidates];
  }

  private scan(buf: Buffer, final: boolean): void {
    const n = this.needle.length;
    let keepFrom = Math.max(0, buf.length - (n - 1)); // a needle may straddle the next chunk
    let at = buf.indexOf(this.needle);
    while (at >= 0) {
      const tailStart = at + n;
      const nul = buf.indexOf(0, tailStart);
      if (nul < 0 || nul - tailStart > MAX_TAIL) {
        if (nul < 0 && !final && buf.length - tailStart <= MAX_TAIL) {
          keepFrom = Math.min(keepFrom, at); // its end is in the next chunk: look again then
          break;
        }
      } else {
        const tail = buf.toString('latin1', tailStart, nul);
        if (TAIL.test(tail)) this.add(`${this.series}.${tail}`);
      }
      at = buf.indexOf(this.needle, at + 1);
    }
    // copy: the carry must not pin the whole previous chunk
    this.carry = final ? Buffer.alloc(0) : Buffer.from(buf.subarray(keepFrom));
  }

  private add(version: string): void {
    if (this.candidates.length < MAX_CANDIDATES && !this.candidates.includes(version)) this.candidates.push(version);
  }
}

/** The version of a whole binary held in memory (tests, and the buffered path). */
export function pythonVersionsIn(bytes: Buffer, series: string): string[] {
  const s = new PythonVersionScanner(series);
  s.push(bytes);
  return s.finish();
}
