import { createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { TallyError } from '../../model/errors.js';
import { normalizePath, resolveLinkTarget } from '../path.js';

/**
 * Random access to the members of an uncompressed tar file (docker-archive, oci-archive) by seeking from header
 * to header. Written by hand because tar streaming libraries (tar-stream) read every byte sequentially: indexing
 * a multi-GB `docker save` archive that way would read all its layers once before scanning them.
 * Handles ustar/GNU names, GNU long names ('L') and PAX `path`/`size` records; only regular files are indexed.
 */
export interface TarMember {
  readonly name: string; // normalised, absolute ("/manifest.json")
  readonly offset: number; // of the data
  readonly size: number;
}

const BLOCK = 512;
const MAX_LONG_HEADER = 1024 * 1024;

function cString(buf: Buffer, start: number, len: number): string {
  const end = buf.indexOf(0, start);
  return buf.toString('utf8', start, end >= 0 && end < start + len ? end : start + len);
}

function parseSize(buf: Buffer, start: number, len: number): number {
  const first = buf[start]!;
  if (first & 0x80) {
    // GNU base-256 for sizes over 8 GiB
    let value = 0;
    for (let i = start + 1; i < start + len; i++) value = value * 256 + buf[i]!;
    return value;
  }
  const text = cString(buf, start, len).trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) return NaN;
  return parseInt(text, 8);
}

function checksumOk(header: Buffer): boolean {
  const stored = parseInt(cString(header, 148, 8).trim(), 8);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : header[i]!;
  return stored === sum;
}

function parsePax(data: string): Map<string, string> {
  const out = new Map<string, string>();
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(' ', pos);
    if (space < 0) break;
    const len = parseInt(data.slice(pos, space), 10);
    if (!(len > 0)) break;
    const record = data.slice(space + 1, pos + len - 1); // without the trailing newline
    const eq = record.indexOf('=');
    if (eq > 0) out.set(record.slice(0, eq), record.slice(eq + 1));
    pos += len;
  }
  return out;
}

export class TarIndex {
  private constructor(readonly file: string, private readonly members: Map<string, TarMember>) {}

  static async open(file: string): Promise<TarIndex> {
    let fh: FileHandle;
    try {
      fh = await open(file, 'r');
    } catch (err) {
      throw new TallyError('TARGET_UNREADABLE', `${file}: cannot open: ${(err as Error).message}`, { cause: err });
    }
    try {
      const members = new Map<string, TarMember>();
      const links = new Map<string, string>();
      const { size: fileSize } = await fh.stat();
      const header = Buffer.alloc(BLOCK);
      let pos = 0;
      let longName: string | null = null;
      let pax: Map<string, string> | null = null;
      while (pos + BLOCK <= fileSize) {
        const { bytesRead } = await fh.read(header, 0, BLOCK, pos);
        if (bytesRead < BLOCK) break;
        if (header.every((b) => b === 0)) break; // end of archive
        if (!checksumOk(header)) throw new TallyError('UNKNOWN_FORMAT', `${file}: not a tar archive (bad header checksum at byte ${pos})`);
        const type = String.fromCharCode(header[156]!);
        let size = parseSize(header, 124, 12);
        if (!Number.isFinite(size) || size < 0) throw new TallyError('UNKNOWN_FORMAT', `${file}: bad tar header size at byte ${pos}`);
        const dataOffset = pos + BLOCK;
        if (type === 'L' || type === 'x' || type === 'g') {
          if (size > MAX_LONG_HEADER) throw new TallyError('UNKNOWN_FORMAT', `${file}: tar long header of ${size} bytes at byte ${pos}`);
          const data = Buffer.alloc(size);
          await fh.read(data, 0, size, dataOffset);
          if (type === 'L') longName = cString(data, 0, size);
          else if (type === 'x') pax = parsePax(data.toString('utf8'));
        } else {
          const magic = header.toString('latin1', 257, 262);
          const prefix = magic === 'ustar' ? cString(header, 345, 155) : '';
          let name = longName ?? (prefix ? `${prefix}/${cString(header, 0, 100)}` : cString(header, 0, 100));
          const paxPath = pax?.get('path');
          if (paxPath) name = paxPath;
          const paxSize = pax?.get('size');
          if (paxSize) size = parseInt(paxSize, 10);
          longName = null;
          if (type === '0' || type === '\0' || type === '7') {
            if (dataOffset + size > fileSize) throw new TallyError('LAYER_UNREADABLE', `${file}: member ${name} is truncated`);
            members.set(normalizePath(name), { name: normalizePath(name), offset: dataOffset, size });
          } else if (type === '1' || type === '2') {
            // `docker save` stores a layer shared by two images once and links the other copy to it
            const target = pax?.get('linkpath') ?? cString(header, 157, 100);
            links.set(normalizePath(name), type === '1' ? normalizePath(target) : resolveLinkTarget(normalizePath(name), target));
          }
          pax = null;
        }
        pos = dataOffset + Math.ceil(size / BLOCK) * BLOCK;
      }
      for (const [name, target] of links) {
        let resolved = target;
        for (let hop = 0; hop < 8 && !members.has(resolved) && links.has(resolved); hop++) resolved = links.get(resolved)!;
        const member = members.get(resolved);
        if (member) members.set(name, member);
      }
      return new TarIndex(file, members);
    } finally {
      await fh.close();
    }
  }

  get(name: string): TarMember | undefined {
    return this.members.get(normalizePath(name));
  }

  names(): IterableIterator<string> {
    return this.members.keys();
  }

  openMember(member: TarMember, signal?: AbortSignal): Readable {
    if (member.size === 0) return Readable.from([]);
    return createReadStream(this.file, { start: member.offset, end: member.offset + member.size - 1, highWaterMark: 1024 * 1024, ...(signal ? { signal } : {}) });
  }

  async readMember(member: TarMember, maxBytes: number): Promise<Buffer> {
    if (member.size > maxBytes) throw new TallyError('INVALID_IMAGE', `${this.file}: ${member.name} is ${member.size} bytes, over the ${maxBytes}-byte limit`);
    const fh = await open(this.file, 'r');
    try {
      const buf = Buffer.alloc(member.size);
      await fh.read(buf, 0, member.size, member.offset);
      return buf;
    } finally {
      await fh.close();
    }
  }
}
