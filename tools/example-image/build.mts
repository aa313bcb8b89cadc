/**
 * Builds the example image the README's main command scans: a small layered Debian 12 image made of real
 * Debian packages (fetched with `apt-get download`, unpacked with `dpkg-deb --fsys-tarfile`, never installed on
 * this machine), with a dpkg status database written the way dpkg writes it, and Dockerfile-like history, plus an app layer from a
 * real `npm install` (lodash@4.17.15 and minimist@0.0.8, which have published advisories).
 * Output (cached under .cache/example-image/, rebuilt when this script changes):
 *   app.tar      docker-archive (`docker save` layout)
 *   oci/         OCI image layout, tag `latest`
 * Usage: node --import tsx tools/example-image/build.mts   → prints the docker-archive path.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tar from 'tar-stream';
import { makeTar, writeDockerArchive, writeOciLayout, type EntrySpec, type LayerSpec } from '../../packages/core/src/testing/image-builder.js';

const root = new URL('../../', import.meta.url).pathname;
const out = join(root, '.cache', 'example-image');
const stamp = createHash('sha256').update(readFileSync(new URL(import.meta.url))).digest('hex').slice(0, 16);

interface Step {
  readonly createdBy: string;
  readonly debs: readonly string[];
}

const STEPS: readonly Step[] = [
  {
    createdBy: '/bin/sh -c #(nop) ADD file:debian-bookworm-minimal in /',
    debs: ['base-files', 'libc6', 'libgcc-s1', 'gcc-12-base', 'zlib1g', 'mawk', 'debianutils', 'libzstd1', 'liblzma5'],
  },
  {
    createdBy: 'RUN /bin/sh -c apt-get install -y --no-install-recommends openssl ca-certificates # buildkit',
    debs: ['libssl3', 'openssl', 'ca-certificates'],
  },
  {
    createdBy: 'RUN /bin/sh -c apt-get install -y --no-install-recommends jq # buildkit',
    debs: ['jq', 'libjq1', 'libonig5'],
  },
];

function log(msg: string): void {
  process.stderr.write(`example-image: ${msg}\n`);
}

function download(names: readonly string[], dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  const missing = names.filter((n) => !readdirSync(dir).some((f) => f.startsWith(`${n}_`) && f.endsWith('.deb')));
  if (missing.length > 0) {
    log(`apt-get download ${missing.join(' ')}`);
    try {
      execFileSync('apt-get', ['download', ...missing], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
    } catch {
      throw new Error('apt-get download failed: run `apt-get update` (as root) and try again');
    }
  }
  return names.map((n) => join(dir, readdirSync(dir).find((f) => f.startsWith(`${n}_`) && f.endsWith('.deb'))!));
}

/** The package's control fields as dpkg records them in its status file once installed. */
function statusParagraph(deb: string): string {
  const control = execFileSync('dpkg-deb', ['-f', deb]).toString('utf8').trimEnd();
  return control.replace(/^(Package: .*)$/m, '$1\nStatus: install ok installed') + '\n';
}

/** The package's files, read straight from the .deb's data tar, plus its dpkg file list. */
async function debEntries(deb: string): Promise<{ entries: EntrySpec[]; list: string[] }> {
  const child = spawn('dpkg-deb', ['--fsys-tarfile', deb], { stdio: ['ignore', 'pipe', 'inherit'] });
  const extract = tar.extract();
  child.stdout.pipe(extract as unknown as NodeJS.WritableStream);
  const entries: EntrySpec[] = [];
  const list: string[] = [];
  for await (const entry of extract) {
    const h = entry.header;
    const chunks: Buffer[] = [];
    for await (const c of entry) chunks.push(c as Buffer);
    const name = h.name.replace(/^\.\//, '');
    if (name === '' || name === '.') continue;
    list.push('/' + name.replace(/\/$/, ''));
    const type = h.type === 'directory' || h.type === 'symlink' || h.type === 'link' ? h.type : 'file';
    entries.push({ name, type, mode: h.mode, content: Buffer.concat(chunks), ...(h.linkname ? { linkname: h.linkname } : {}) });
  }
  return { entries, list };
}

/** An app layer made by a real `npm install` (two packages with published advisories), read back as tar entries. */
async function appEntries(): Promise<EntrySpec[]> {
  const dir = join(root, '.cache', 'example-app');
  if (!existsSync(join(dir, 'node_modules', '.package-lock.json'))) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'example-app', version: '1.0.0', private: true }, null, 2));
    log('npm install lodash@4.17.15 minimist@0.0.8');
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', 'lodash@4.17.15', 'minimist@0.0.8'], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
  }
  const entries: EntrySpec[] = [];
  const walk = (rel: string): void => {
    for (const d of readdirSync(join(dir, rel), { withFileTypes: true })) {
      const path = rel ? `${rel}/${d.name}` : d.name;
      if (d.isDirectory()) walk(path);
      else if (d.isFile()) entries.push({ name: `app/${path}`, content: readFileSync(join(dir, path)) });
    }
  };
  walk('');
  return entries;
}

async function build(): Promise<void> {
  const debDir = join(root, '.cache', 'debs');
  const tmp = `${out}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const status: string[] = [];
  const layers: LayerSpec[] = [];
  for (const step of STEPS) {
    const entries: EntrySpec[] = [];
    for (const deb of download(step.debs, debDir)) {
      const { entries: files, list } = await debEntries(deb);
      entries.push(...files);
      const paragraph = statusParagraph(deb);
      status.push(paragraph);
      const name = /^Package: (.*)$/m.exec(paragraph)![1]!;
      const arch = /^Architecture: (.*)$/m.exec(paragraph)![1]!;
      const multiArch = /^Multi-Arch: same$/m.test(paragraph);
      entries.push({ name: `var/lib/dpkg/info/${name}${multiArch ? `:${arch}` : ''}.list`, content: list.join('\n') + '\n' });
    }
    entries.push({ name: 'var/lib/dpkg/status', content: status.join('\n') });
    layers.push({ tar: await makeTar(entries), compression: 'gzip', createdBy: step.createdBy });
  }
  layers.push({ tar: await makeTar(await appEntries()), compression: 'gzip', createdBy: 'COPY app /app # buildkit' });
  const spec = { layers, emptyHistoryBetween: true };
  await writeOciLayout(join(tmp, 'oci'), spec, 'tally-example:latest');
  await writeDockerArchive(join(tmp, 'app.tar'), spec, 'tally-example:latest');
  writeFileSync(join(tmp, 'stamp'), stamp);
  rmSync(out, { recursive: true, force: true });
  renameSync(tmp, out);
}

if (!(existsSync(join(out, 'stamp')) && readFileSync(join(out, 'stamp'), 'utf8') === stamp)) {
  const started = Date.now();
  await build();
  log(`built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
process.stdout.write(join(out, 'app.tar') + '\n');
