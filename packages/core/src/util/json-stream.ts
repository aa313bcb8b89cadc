/**
 * Streams a large JSON document without parsing it whole: the top-level members of an object (or the elements of a
 * top-level array) come out one by one as raw bytes, and so do the elements of the members named in `streamed`.
 * Each piece is then `JSON.parse`d on its own, so memory goes to one piece at a time, not to the whole tree (the
 * Debian tracker feed is one object of ~40,000 packages; an uploaded report can hold a million packages).
 *
 * Only what is needed to find boundaries is tracked (strings and escapes, bracket depth, the top-level grammar);
 * the inside of each piece is left to JSON.parse. A structural error or a truncated document throws a
 * `JsonScanError`, because nothing after it can be trusted; a piece over its size cap either throws (tooLarge) or
 * is skipped while it streams past (`raw: null`), as the caller chooses.
 */

export type JsonPiece<Raw extends Buffer | null = Buffer, Key extends string | null = string | null> =
  /** A top-level member (other than a streamed array). */
  | { readonly kind: 'member'; readonly key: string; readonly raw: Raw; readonly bytes: number }
  /** An element of the top-level array (key null) or of a streamed member. */
  | { readonly kind: 'element'; readonly key: Key; readonly index: number; readonly raw: Raw; readonly bytes: number }
  /** A streamed array ended after `count` elements. */
  | { readonly kind: 'end-array'; readonly key: Key; readonly count: number };

export interface JsonScanOptions {
  /** The document as error messages name it ("the report"). */
  readonly document: string;
  /** What the document must be. */
  readonly root: 'object' | 'array';
  /** Top-level members whose array values come out element by element (an object root only). */
  readonly streamed?: ReadonlySet<string>;
  /** Refuse a top-level member name that came before. */
  readonly uniqueKeys?: boolean;
  /** Largest top-level member, in bytes (a streamed array is not one piece). */
  readonly maxMemberBytes: number;
  /** Largest array element, in bytes. */
  readonly maxElementBytes: number;
  /** A piece over its cap: `throw` a tooLarge JsonScanError, or `skip` it (`raw: null`, `bytes` still counted). */
  readonly oversized: 'throw' | 'skip';
}

/** The pieces of a scan with options `O`: `raw` can be null only if they may skip, `key` only if the root may be an array. */
export type JsonPieceOf<O extends JsonScanOptions> = JsonPiece<'skip' extends O['oversized'] ? Buffer | null : Buffer, 'array' extends O['root'] ? string | null : string>;

export class JsonScanError extends Error {
  override readonly name = 'JsonScanError';
  constructor(
    message: string,
    /** Byte offset in the document. */
    readonly offset: number,
    /** True when the problem is a size cap, not malformed JSON. */
    readonly tooLarge = false,
  ) {
    super(`${message} at byte ${offset}`);
  }
}

/** Member names are small; this only bounds what one costs. */
const MAX_KEY_BYTES = 64 * 1024;
const BOM = [0xef, 0xbb, 0xbf];

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

/** Where the top-level grammar is. */
const enum At {
  Start, // before '{' or '['
  KeyOrEnd, // after '{': a key or '}'
  Key, // after ',': a key
  Colon,
  Value, // before a member value
  AfterValue, // ',' or '}'
  ElemOrEnd, // inside a streamed (or the top-level) array, after '[': an element or ']'
  Elem, // after ',' in such an array
  AfterElem, // ',' or ']'
  Done,
}

/** Capturing one JSON value (a key string, a member, an element) across chunks. */
interface Capture {
  parts: Buffer[];
  bytes: number;
  /** Nesting depth inside the value (0 for scalars and before the first byte). */
  depth: number;
  inString: boolean;
  escape: boolean;
  /** '"', '{', '[' or 0 for a bare scalar (number, true, false, null). */
  opener: number;
  limit: number;
  /** Over the limit: skip it (else throw). */
  skippable: boolean;
  /** Skipped: counted, not kept. */
  skipped: boolean;
  what: string;
}

/** Push chunks, get the pieces each completes; `end()` when the input ends. */
export class JsonScanner<O extends JsonScanOptions = JsonScanOptions> {
  private at: At = At.Start;
  private offset = 0;
  /** Byte-order-mark bytes seen. */
  private bom = 0;
  private cap: Capture | null = null;
  private key: string | null = null;
  private readonly seen = new Set<string>();
  /** The array being streamed: a member's name, or null for the top-level array. */
  private streamKey: string | null = null;
  private count = 0;
  private out: JsonPiece<Buffer | null>[] = [];

  constructor(private readonly options: O) {}

  /** Feed the next chunk; returns the pieces completed by it (their `raw` may share memory with the chunk). */
  push(chunk: Buffer): JsonPieceOf<O>[] {
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (this.cap !== null) {
        i = this.capture(chunk, i);
        continue;
      }
      const c = chunk[i] as number;
      if (isSpace(c)) {
        i++;
        continue;
      }
      const pos = this.offset + i;
      switch (this.at) {
        case At.Start:
          // A UTF-8 byte-order mark before the document is tolerated (some mirrors add one).
          if (pos === this.bom && c === BOM[this.bom]) {
            this.bom++;
            i++;
            break;
          }
          if (this.options.root === 'object' && c === LBRACE) this.at = At.KeyOrEnd;
          else if (this.options.root === 'array' && c === LBRACKET) this.at = At.ElemOrEnd;
          else throw new JsonScanError(`${this.options.document} must be a JSON ${this.options.root}`, pos);
          i++;
          break;
        case At.KeyOrEnd:
        case At.Key:
          if (c === RBRACE && this.at === At.KeyOrEnd) {
            this.at = At.Done;
            i++;
            break;
          }
          if (c !== QUOTE) throw new JsonScanError('expected a member name', pos);
          this.begin(c, MAX_KEY_BYTES, false, 'member name', pos);
          break;
        case At.Colon:
          if (c !== COLON) throw new JsonScanError("expected ':'", pos);
          this.at = At.Value;
          i++;
          break;
        case At.Value:
          if (c === LBRACKET && this.options.streamed?.has(this.key as string) === true) {
            this.streamKey = this.key;
            this.count = 0;
            this.at = At.ElemOrEnd;
            i++;
            break;
          }
          this.begin(c, this.options.maxMemberBytes, this.options.oversized === 'skip', `member ${JSON.stringify(this.key)}`, pos);
          break;
        case At.AfterValue:
          if (c === COMMA) this.at = At.Key;
          else if (c === RBRACE) this.at = At.Done;
          else throw new JsonScanError(c === RBRACKET ? 'mismatched closing bracket' : "expected ',' or '}'", pos);
          i++;
          break;
        case At.ElemOrEnd:
        case At.Elem:
          if (c === RBRACKET && this.at === At.ElemOrEnd) {
            this.endArray();
            i++;
            break;
          }
          this.begin(c, this.options.maxElementBytes, this.options.oversized === 'skip', `an element of ${this.streamKey === null ? this.options.document : JSON.stringify(this.streamKey)}`, pos);
          break;
        case At.AfterElem:
          if (c === COMMA) this.at = At.Elem;
          else if (c === RBRACKET) this.endArray();
          else throw new JsonScanError(c === RBRACE ? 'mismatched closing bracket' : "expected ',' or ']'", pos);
          i++;
          break;
        case At.Done:
          throw new JsonScanError(`unexpected data after the end of ${this.options.document}`, pos);
      }
    }
    this.offset += n;
    return this.take();
  }

  /** The input ended: throws unless the document was complete. */
  end(): JsonPieceOf<O>[] {
    if (this.at !== At.Done) throw new JsonScanError(`${this.options.document} is truncated`, this.offset);
    return this.take();
  }

  private take(): JsonPieceOf<O>[] {
    const out = this.out;
    this.out = [];
    // Raw is null only for a skipped piece, and pieces are skipped only when the options say so.
    return out as JsonPieceOf<O>[];
  }

  private begin(opener: number, limit: number, skippable: boolean, what: string, pos: number): void {
    if (opener === COMMA || opener === COLON || opener === RBRACE || opener === RBRACKET) throw new JsonScanError('expected a value', pos);
    const isStructured = opener === QUOTE || opener === LBRACE || opener === LBRACKET;
    this.cap = { parts: [], bytes: 0, depth: 0, inString: false, escape: false, opener: isStructured ? opener : 0, limit, skippable, skipped: false, what };
  }

  /** Consume value bytes from `from`; returns where the caller continues. */
  private capture(chunk: Buffer, from: number): number {
    const cap = this.cap as Capture;
    const n = chunk.length;
    let i = from;
    let done = false;
    if (cap.opener === 0) {
      // A bare scalar ends before the first delimiter, which belongs to the surrounding grammar.
      while (i < n) {
        const c = chunk[i] as number;
        if (c === COMMA || c === RBRACE || c === RBRACKET || isSpace(c)) {
          done = true;
          break;
        }
        i++;
      }
    } else {
      // Locals, not the capture's fields, in the per-byte loops (measurably faster).
      let { depth, inString, escape } = cap;
      while (i < n) {
        if (inString) {
          for (; i < n; i++) {
            const c = chunk[i] as number;
            if (escape) escape = false;
            else if (c === BACKSLASH) escape = true;
            else if (c === QUOTE) break;
          }
          if (i === n) break;
          i++;
          inString = false;
          if (depth === 0) {
            done = true;
            break;
          }
          continue;
        }
        const c = chunk[i] as number;
        i++;
        if (c === QUOTE) inString = true;
        else if (c === LBRACE || c === LBRACKET) depth++;
        else if ((c === RBRACE || c === RBRACKET) && --depth === 0) {
          done = true;
          break;
        }
      }
      cap.depth = depth;
      cap.inString = inString;
      cap.escape = escape;
    }
    if (i > from) {
      cap.bytes += i - from;
      if (cap.bytes > cap.limit && !cap.skipped) {
        if (!cap.skippable) throw new JsonScanError(`${cap.what} is larger than ${cap.limit} bytes`, this.offset + i, true);
        cap.skipped = true;
        cap.parts = [];
      }
      if (!cap.skipped) cap.parts.push(chunk.subarray(from, i));
    }
    if (done) this.finish(this.offset + i);
    return i;
  }

  /** The capture ended just before `pos`. */
  private finish(pos: number): void {
    const cap = this.cap as Capture;
    this.cap = null;
    const raw = cap.skipped ? null : cap.parts.length === 1 ? (cap.parts[0] as Buffer) : Buffer.concat(cap.parts, cap.bytes);
    switch (this.at) {
      case At.KeyOrEnd:
      case At.Key: {
        let key: unknown;
        try {
          key = JSON.parse((raw as Buffer).toString('utf8'));
        } catch {
          throw new JsonScanError('malformed member name', pos);
        }
        if (typeof key !== 'string') throw new JsonScanError('malformed member name', pos);
        if (this.options.uniqueKeys === true) {
          if (this.seen.has(key)) throw new JsonScanError(`duplicate member ${JSON.stringify(key)}`, pos);
          this.seen.add(key);
        }
        this.key = key;
        this.at = At.Colon;
        return;
      }
      case At.Value:
        this.out.push({ kind: 'member', key: this.key as string, raw, bytes: cap.bytes });
        this.at = At.AfterValue;
        return;
      case At.ElemOrEnd:
      case At.Elem:
        this.out.push({ kind: 'element', key: this.streamKey, index: this.count++, raw, bytes: cap.bytes });
        this.at = At.AfterElem;
        return;
      default:
        throw new JsonScanError('internal scanner state', pos);
    }
  }

  private endArray(): void {
    this.out.push({ kind: 'end-array', key: this.streamKey, count: this.count });
    this.at = this.streamKey === null ? At.Done : At.AfterValue;
    this.streamKey = null;
  }
}

/**
 * Calls `fn` for each piece of the document read from `source`; awaits only when `fn` returns a promise (one await
 * per chunk otherwise, not one per piece as an async generator would: a report has a piece per package).
 */
export async function forEachJsonPiece<O extends JsonScanOptions>(source: AsyncIterable<Buffer>, options: O, fn: (piece: JsonPieceOf<O>) => void | Promise<void>): Promise<void> {
  const scanner = new JsonScanner(options);
  for await (const chunk of source) {
    for (const piece of scanner.push(chunk)) {
      const r = fn(piece);
      if (r !== undefined) await r;
    }
  }
  for (const piece of scanner.end()) {
    const r = fn(piece);
    if (r !== undefined) await r;
  }
}
