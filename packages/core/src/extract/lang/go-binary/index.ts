import type { Readable } from 'node:stream';
import { GiB, isExecutable, isRegularFile, type ExtractOutput, type StreamExtractor } from '../../extractor.js';
import { goPackages, parseModInfo } from './parse.js';
import { GoBuildInfoScanner, type ScanOutcome } from './scan.js';

/** Trees that never hold programs worth reading (or are not files at all in an image). */
const SKIP_PREFIXES = ['/proc/', '/sys/', '/dev/', '/usr/share/doc/', '/usr/share/man/', '/usr/share/locale/', '/usr/include/'];
/** Names that are scripts, data or libraries; executables are recognised by ELF magic, this only saves a read. */
const SKIP_SUFFIXES = [
  '.so', '.a', '.o', '.ko', '.la', '.h', '.c', '.jar', '.war', '.zip', '.gz', '.xz', '.bz2', '.zst', '.tar', '.dll', '.exe',
  '.sh', '.bash', '.zsh', '.csh', '.fish', '.py', '.pyc', '.pl', '.pm', '.rb', '.php', '.js', '.mjs', '.cjs', '.ts', '.lua',
  '.tcl', '.awk', '.sed', '.ps1', '.bat', '.cmd', '.txt', '.md', '.rst', '.html', '.htm', '.css', '.json', '.yaml', '.yml',
  '.xml', '.toml', '.ini', '.conf', '.cfg', '.service', '.desktop', '.png', '.jpg', '.gif', '.svg', '.ico', '.pem', '.crt',
];

function required(path: string, mode: number): boolean {
  if (!isRegularFile(mode) || !isExecutable(mode)) return false;
  for (const p of SKIP_PREFIXES) if (path.startsWith(p)) return false;
  for (const s of SKIP_SUFFIXES) if (path.endsWith(s)) return false;
  // versioned shared libraries: libc.so.6, libfoo.so.1.2.3
  return path.indexOf('.so.', path.lastIndexOf('/')) < 0;
}

/** Feed the stream to the scanner chunk by chunk; stop listening (without destroying it) once the outcome is known. */
function scanStream(stream: Readable, scanner: GoBuildInfoScanner, signal: AbortSignal): Promise<ScanOutcome> {
  return new Promise<ScanOutcome>((resolve, reject) => {
    let settled = false;
    const finish = (err: unknown, outcome?: ScanOutcome): void => {
      if (settled) return;
      settled = true;
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('close', onEnd);
      stream.off('error', onError);
      signal.removeEventListener('abort', onAbort);
      if (err !== undefined) reject(err);
      else resolve(outcome ?? scanner.end());
    };
    const onData = (chunk: unknown): void => {
      const b = Buffer.isBuffer(chunk) ? chunk : typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : Buffer.from(chunk as Uint8Array);
      if (scanner.push(b)) {
        stream.pause(); // the runner drains the rest
        finish(undefined, scanner.end());
      }
    };
    const onEnd = (): void => finish(undefined, scanner.end());
    const onError = (err: unknown): void => finish(err);
    const onAbort = (): void => finish(signal.reason);
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('close', onEnd);
    stream.once('error', onError);
  });
}

/**
 * Go binaries: build info (Go >= 1.18 inline, 1.13-1.17 pointer format) read from ELF executables as they stream
 * past, once, without buffering the binary. Reports the main module, every dependency and `stdlib`.
 */
export const goBinaryExtractor: StreamExtractor = {
  name: 'lang/go-binary',
  version: 1,
  scanType: 'SCA',
  input: 'stream',
  // Streaming keeps memory flat whatever the size; the cap only bounds time spent on one file.
  maxFileSize: 4 * GiB,
  required,
  async extractStream(stream, file, ctx): Promise<ExtractOutput> {
    const outcome = await scanStream(stream, new GoBuildInfoScanner(file.size), ctx.signal);
    switch (outcome.kind) {
      case 'not-elf':
      case 'not-go':
        return { packages: [] };
      case 'bad-elf':
        ctx.issue(`malformed ELF file, not checked for Go build info: ${outcome.message}`);
        return { packages: [] };
      case 'upx':
        ctx.issue('UPX-packed executable: any Go build info inside is compressed and was not read');
        return { packages: [] };
      case 'go': {
        for (const p of outcome.problems) ctx.issue(`Go build info: ${p}`);
        const info = parseModInfo(outcome.modinfo);
        for (const p of info.problems) ctx.issue(`Go build info: ${p}`);
        // the modules are still worth reporting when only the version string was unreadable (no stdlib then)
        return { packages: goPackages(outcome.goVersion ?? 'unknown', info) };
      }
    }
  },
};
