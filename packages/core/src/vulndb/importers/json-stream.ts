/**
 * Streams the top-level entries of a large JSON document (`{"k": v, ...}` or `[v, ...]`) without parsing the whole
 * document: each entry's value comes out as raw bytes to be JSON.parse'd on its own. The Debian tracker feed is one
 * object of ~40,000 packages; parsing it whole would hold the entire tree in memory at once.
 *
 * The scanner tracks only what it must to find entry boundaries (strings, escapes, bracket depth). A value longer
 * than `maxValueBytes` is skipped while it streams past (`raw: null`); a structural error or a truncated document
 * throws, because nothing after it can be trusted.
 */

export interface JsonEntry {
  /** The member name in an object; null for array elements. */
  readonly key: string | null;
  readonly index: number;
  /** The value's bytes, or null when it exceeded the limit. */
  readonly raw: Buffer | null;
  readonly bytes: number;
}

const enum S {
  Start,
  BeforeKey,
  Key,
  AfterKey,
  BeforeValue,
  Value,
  End,
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

export class JsonStreamError extends Error {
  constructor(message: string, readonly offset: number) {
    super(`${message} at byte ${offset}`);
    this.name = 'JsonStreamError';
  }
}

export async function* jsonEntries(source: AsyncIterable<Buffer>, maxValueBytes: number, maxKeyBytes = 4096): AsyncGenerator<JsonEntry> {
  let state: S = S.Start;
  let isArray = false;
  let offset = 0; // bytes consumed before the current chunk
  let bom = 0;
  let keyParts: Buffer[] = [];
  let keyBytes = 0;
  let key: string | null = null;
  let valueParts: Buffer[] = [];
  let valueBytes = 0;
  let oversized = false;
  let depth = 0;
  let inString = false;
  let escape = false;
  let index = 0;

  const finishValue = (): JsonEntry => {
    const raw = oversized ? null : Buffer.concat(valueParts, valueBytes);
    const entry: JsonEntry = { key, index, raw, bytes: valueBytes };
    index += 1;
    valueParts = [];
    valueBytes = 0;
    oversized = false;
    key = null;
    return entry;
  };
  const keep = (chunk: Buffer, from: number, to: number): void => {
    if (to <= from) return;
    valueBytes += to - from;
    if (oversized) return;
    if (valueBytes > maxValueBytes) {
      oversized = true;
      valueParts = [];
      return;
    }
    valueParts.push(chunk.subarray(from, to));
  };

  for await (const chunk of source) {
    let i = 0;
    const n = chunk.length;
    // A UTF-8 byte-order mark before the document is tolerated (some mirrors add one).
    while (state === S.Start && bom < 3 && i < n && offset + i === bom && chunk[i] === [0xef, 0xbb, 0xbf][bom]) {
      bom += 1;
      i += 1;
    }
    let valueStart = state === S.Value ? 0 : -1;
    while (i < n) {
      const c = chunk[i] as number;
      switch (state) {
        case S.Start:
          if (isSpace(c)) break;
          if (c === LBRACE) state = S.BeforeKey;
          else if (c === LBRACKET) {
            isArray = true;
            state = S.BeforeValue;
          } else throw new JsonStreamError('expected "{" or "["', offset + i);
          break;
        case S.BeforeKey:
          if (isSpace(c)) break;
          if (c === QUOTE) {
            state = S.Key;
            keyParts = [];
            keyBytes = 0;
            escape = false;
          } else if (c === RBRACE && index === 0) state = S.End;
          else throw new JsonStreamError('expected a member name', offset + i);
          break;
        case S.Key: {
          // Scan to the closing quote within this chunk.
          let j = i;
          for (; j < n; j += 1) {
            const d = chunk[j] as number;
            if (escape) escape = false;
            else if (d === BACKSLASH) escape = true;
            else if (d === QUOTE) break;
          }
          keyBytes += j - i;
          if (keyBytes > maxKeyBytes) throw new JsonStreamError('member name too long', offset + i);
          keyParts.push(chunk.subarray(i, j));
          if (j < n) {
            const text = Buffer.concat(keyParts).toString('utf8');
            try {
              key = JSON.parse(`"${text}"`) as string;
            } catch {
              throw new JsonStreamError('invalid member name', offset + i);
            }
            state = S.AfterKey;
          }
          i = j;
          break;
        }
        case S.AfterKey:
          if (isSpace(c)) break;
          if (c !== COLON) throw new JsonStreamError('expected ":"', offset + i);
          state = S.BeforeValue;
          break;
        case S.BeforeValue:
          if (isSpace(c)) break;
          if (isArray && c === RBRACKET && index === 0) {
            state = S.End;
            break;
          }
          if (c === COMMA || c === RBRACE || c === RBRACKET || c === COLON) throw new JsonStreamError('expected a value', offset + i);
          state = S.Value;
          depth = 0;
          inString = false;
          escape = false;
          valueStart = i;
          i -= 1; // re-read this byte in the Value state
          break;
        case S.Value: {
          let j = i;
          let ended = false;
          for (; j < n; j += 1) {
            const d = chunk[j] as number;
            if (inString) {
              if (escape) escape = false;
              else if (d === BACKSLASH) escape = true;
              else if (d === QUOTE) inString = false;
              continue;
            }
            if (d === QUOTE) inString = true;
            else if (d === LBRACE || d === LBRACKET) depth += 1;
            else if (d === RBRACE || d === RBRACKET) {
              if (depth === 0) {
                if ((d === RBRACKET) !== isArray) throw new JsonStreamError('mismatched closing bracket', offset + j);
                ended = true;
                break;
              }
              depth -= 1;
            } else if (d === COMMA && depth === 0) {
              ended = true;
              break;
            }
          }
          keep(chunk, valueStart, j);
          valueStart = -1;
          if (ended) {
            yield finishValue();
            const d = chunk[j] as number;
            state = d === COMMA ? (isArray ? S.BeforeValue : S.BeforeKey) : S.End;
          }
          i = j;
          break;
        }
        case S.End:
          if (!isSpace(c)) throw new JsonStreamError('data after the end of the document', offset + i);
          break;
      }
      i += 1;
    }
    if (state === S.Value && valueStart >= 0) keep(chunk, valueStart, n);
    offset += n;
  }
  if ((state as S) !== S.End) throw new JsonStreamError('unexpected end of document (truncated?)', offset);
}
