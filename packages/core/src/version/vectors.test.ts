/**
 * Every shared version vector (`../shared/version-vectors/`, see its README) against our schemes: one test per
 * file, all lines of the file checked, failures reported as `file:line`. Each `A OP B` line is checked both ways:
 * cmp(A, B) === OP and cmp(B, A) === -OP.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { apkScheme, apkVersionMatch, isStrictApkVersion, type ApkOperator } from './apk.js';
import { debScheme } from './deb.js';
import { goScheme } from './go.js';
import { mavenScheme } from './maven.js';
import { nugetScheme } from './nuget.js';
import { pep440Scheme } from './pep440.js';
import { rpmScheme, rpmvercmp } from './rpm.js';
import { isInvalidVersionError } from './scheme.js';
import { compareNpmLoose, npmSatisfies, npmScheme, type NpmRangeMode } from './semver.js';

const VECTORS_DIR = fileURLToPath(new URL('../../../../../shared/version-vectors/', import.meta.url));
const MAX_REPORTED = 25;

type Cmp = (a: string, b: string) => -1 | 0 | 1;
type Op = '<' | '=' | '>';

interface VectorLine {
  readonly line: number;
  readonly a: string;
  readonly op: Op;
  readonly b: string;
}

const OP_VALUE: Readonly<Record<Op, -1 | 0 | 1>> = { '<': -1, '=': 0, '>': 1 };

function fileLines(file: string): { line: number; text: string }[] {
  return readFileSync(VECTORS_DIR + file, 'utf8')
    .split('\n')
    .map((text, i) => ({ line: i + 1, text: text.endsWith('\r') ? text.slice(0, -1) : text }))
    .filter(({ text }) => text !== '' && !text.startsWith('#'));
}

/** `A OP B` lines; a malformed line is itself a failure. */
function readPairs(file: string, failures: string[]): VectorLine[] {
  const out: VectorLine[] = [];
  for (const { line, text } of fileLines(file)) {
    const parts = text.split(' ');
    const [a, op, b] = parts;
    if (parts.length !== 3 || a === undefined || b === undefined || (op !== '<' && op !== '=' && op !== '>')) {
      failures.push(`${file}:${line}: malformed line ${JSON.stringify(text)}`);
      continue;
    }
    out.push({ line, a, op, b });
  }
  return out;
}

function show(r: number | string): string {
  return typeof r === 'number' ? (r < 0 ? '<' : r > 0 ? '>' : '=') : r;
}

function attempt(cmp: Cmp, a: string, b: string): number | string {
  try {
    return cmp(a, b);
  } catch (err: unknown) {
    return isInvalidVersionError(err) ? `InvalidVersionError(${err.reason})` : `threw ${String(err)}`;
  }
}

/** Check every line both ways; `expected` maps a line's OP to the value we assert (identity unless tool-dependent). */
function checkPairs(
  file: string,
  cmp: Cmp,
  expected: (op: Op) => -1 | 0 | 1 = (op) => OP_VALUE[op],
): { pairs: VectorLine[]; total: number; failures: string[] } {
  const failures: string[] = [];
  const pairs = readPairs(file, failures);
  const total = pairs.length + failures.length; // malformed lines count as failed lines
  for (const { line, a, op, b } of pairs) {
    const want = expected(op);
    const forward = attempt(cmp, a, b);
    const backward = attempt(cmp, b, a);
    if (forward !== want || backward !== -want) {
      failures.push(`${file}:${line}: ${a} ${op} ${b}: want cmp(A,B)=${show(want)} cmp(B,A)=${show(-want)}, got ${show(forward)} and ${show(backward)}`);
    }
  }
  return { pairs, total, failures };
}

function report(file: string, total: number, failures: readonly string[], diagnostic: (msg: string) => void): void {
  diagnostic(`${file}: ${total - failures.length}/${total} lines pass`);
  assert.ok(total > 0, `${file}: no vector lines found`);
  if (failures.length > 0) {
    const shown = failures.slice(0, MAX_REPORTED).join('\n');
    const more = failures.length > MAX_REPORTED ? `\n… and ${failures.length - MAX_REPORTED} more` : '';
    assert.fail(`${failures.length} of ${total} lines fail:\n${shown}${more}`);
  }
}

/** Plain `A OP B` files and the scheme that must reproduce them. */
const PLAIN: Readonly<Record<string, { readonly title: string; readonly cmp: Cmp }>> = {
  'dpkg.txt': { title: 'dpkg --compare-versions ordering (deb scheme)', cmp: debScheme.compare },
  'rpm.txt': {
    title: 'rpm ordering (rpm scheme on [epoch:]version[-release]; the osv block has EVR lines like `3 < 1:2`)',
    cmp: rpmScheme.compare,
  },
  'apk.txt': { title: 'apk version -t ordering (apk scheme)', cmp: apkScheme.compare },
  'npm-semver.txt': { title: 'node-semver strict ordering (npm scheme)', cmp: npmScheme.compare },
  'npm-semver-loose.txt': { title: 'node-semver {loose:true} ordering (compareNpmLoose)', cmp: compareNpmLoose },
  'pep440.txt': { title: 'PEP 440 ordering (pypi scheme)', cmp: pep440Scheme.compare },
  'maven.txt': { title: 'Maven ComparableVersion ordering (maven scheme)', cmp: mavenScheme.compare },
  'nuget.txt': { title: 'NuGet VersionComparer.Default ordering (nuget scheme)', cmp: nugetScheme.compare },
  'go.txt': { title: 'golang.org/x/mod/semver ordering (golang scheme)', cmp: goScheme.compare },
};

const SPECIAL = new Set(['apk-extra.txt', 'maven-version-dependent.txt', 'pep440-legacy.txt']);

const vectorFiles = readdirSync(VECTORS_DIR)
  .filter((f) => f.endsWith('.txt'))
  .sort();

test('version-vectors folder is found and every *.txt file has a check', () => {
  assert.ok(vectorFiles.length > 0, `no *.txt files in ${VECTORS_DIR}`);
  const unhandled = vectorFiles.filter((f) => !(f in PLAIN) && !SPECIAL.has(f));
  assert.deepEqual(unhandled, [], 'vector files without a check: add them to vectors.test.ts');
  for (const f of [...Object.keys(PLAIN), ...SPECIAL]) assert.ok(vectorFiles.includes(f), `${f} is missing from ${VECTORS_DIR}`);
});

for (const file of vectorFiles) {
  const plain = PLAIN[file];
  if (plain === undefined) continue;
  test(`${file}: ${plain.title}`, (t) => {
    const { pairs, total, failures } = checkPairs(file, plain.cmp);
    if (file === 'rpm.txt') {
      // lines without epoch or release are single strings: rpmvercmp alone must agree
      for (const { line, a, op, b } of pairs) {
        if (/[:-]/.test(a + b)) continue;
        const want = OP_VALUE[op];
        if (rpmvercmp(a, b) !== want || rpmvercmp(b, a) !== -want) failures.push(`${file}:${line}: rpmvercmp(${a}, ${b}) disagrees with ${op}`);
      }
    }
    report(file, total, failures, (m) => t.diagnostic(m));
  });
}

test('maven-version-dependent.txt: tool-dependent, we follow maven-artifact 3.9.6, which answers the OPPOSITE of each listed (newer-Maven) expectation: ">" on every line', (t) => {
  const file = 'maven-version-dependent.txt';
  // header: "maven-artifact 3.8.7 returns the OPPOSITE order ('>' for '<' lines; '>' for the '=' line)"; 3.9.6 agrees
  const opposite = (op: Op): -1 | 0 | 1 => (op === '>' ? -1 : 1);
  const { total, failures } = checkPairs(file, mavenScheme.compare, opposite);
  report(file, total, failures, (m) => t.diagnostic(m));
});

test('pep440-legacy.txt: tool-dependent, legacy (pre-PEP 440) ordering is NOT supported: every line has an invalid side and compare throws InvalidVersionError both ways', (t) => {
  const file = 'pep440-legacy.txt';
  const failures: string[] = [];
  const pairs = readPairs(file, failures);
  for (const { line, a, op, b } of pairs) {
    if (pep440Scheme.valid(a) && pep440Scheme.valid(b)) {
      failures.push(`${file}:${line}: ${a} ${op} ${b}: both sides are valid PEP 440, expected a legacy version`);
      continue;
    }
    for (const [x, y] of [
      [a, b],
      [b, a],
    ] as const) {
      const r = attempt(pep440Scheme.compare, x, y);
      if (typeof r !== 'string' || !r.startsWith('InvalidVersionError')) failures.push(`${file}:${line}: compare(${x}, ${y}) gave ${show(r)}, want InvalidVersionError`);
    }
  }
  report(file, pairs.length, failures, (m) => t.diagnostic(m));
});

const APK_OPERATORS: ReadonlySet<string> = new Set(['<', '<=', '=', '>=', '>', '~', '<~', '>~', '!~', '!=']);

test('apk-extra.txt: apk fuzzy operators (~ <~ >~ !~) and strict validity (V / !V, apk-tools 3 rules)', (t) => {
  const file = 'apk-extra.txt';
  const failures: string[] = [];
  const lines = fileLines(file);
  for (const { line, text } of lines) {
    const parts = text.split(' ');
    if (parts.length === 1) {
      const invalid = text.startsWith('!');
      const v = invalid ? text.slice(1) : text;
      if (isStrictApkVersion(v) === invalid) failures.push(`${file}:${line}: ${JSON.stringify(v)} should be ${invalid ? 'invalid' : 'valid'}`);
      continue;
    }
    const [a, op, b] = parts;
    if (parts.length !== 3 || a === undefined || b === undefined || op === undefined || !APK_OPERATORS.has(op)) {
      failures.push(`${file}:${line}: malformed line ${JSON.stringify(text)}`);
      continue;
    }
    let ok: boolean | string;
    try {
      ok = apkVersionMatch(a, op as ApkOperator, b);
    } catch (err: unknown) {
      ok = String(err);
    }
    if (ok !== true) failures.push(`${file}:${line}: ${text}: got ${String(ok)}`);
  }
  report(file, lines.length, failures, (m) => t.diagnostic(m));
});

test('npm-semver-ranges.tsv: node-semver satisfies() with the given mode', (t) => {
  const file = 'npm-semver-ranges.tsv';
  const failures: string[] = [];
  const lines = fileLines(file);
  for (const { line, text } of lines) {
    const cols = text.split('\t');
    const [range, version, expected, mode] = cols;
    if (cols.length !== 4 || range === undefined || version === undefined || (expected !== 'in' && expected !== 'out')) {
      failures.push(`${file}:${line}: malformed line ${JSON.stringify(text)}`);
      continue;
    }
    if (mode !== 'strict' && mode !== 'loose' && mode !== 'includePrerelease') {
      failures.push(`${file}:${line}: unknown mode ${JSON.stringify(mode)}`);
      continue;
    }
    const got = npmSatisfies(version, range, mode satisfies NpmRangeMode);
    if (got !== (expected === 'in')) failures.push(`${file}:${line}: ${JSON.stringify(range)} ${version} (${mode}): want ${expected}, got ${got ? 'in' : 'out'}`);
  }
  report(file, lines.length, failures, (m) => t.diagnostic(m));
});
