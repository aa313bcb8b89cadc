/**
 * Reads an uploaded report without holding it in memory as one object: the top-level members come out one by one
 * as raw bytes, and the members that can be huge (`packages`, `vulnerabilities`, `issues`, `containers`) come out
 * element by element. Each piece is then `JSON.parse`d and validated on its own, so a report of a million packages
 * costs memory for one batch of packages, not for a million objects.
 *
 * Only what is needed to find boundaries is tracked (strings and escapes, bracket depth, the top-level grammar);
 * the inside of each piece is checked by JSON.parse. A document that is not one JSON object, a truncated one,
 * duplicate top-level keys, or a piece over its size cap is a `JsonPartsError` (the caller turns it into a 4xx).
 */

export type ReportPart =
  | { readonly kind: 'member'; readonly key: string; readonly raw: Buffer }
  | { readonly kind: 'element'; readonly key: string; readonly index: number; readonly raw: Buffer }
  /** A streamed array ended: `count` elements. */
  | { readonly kind: 'end-array'; readonly key: string; readonly count: number };

export interface JsonPartsOptions {
  /** Top-level keys whose array elements are streamed one by one. */
  readonly streamed: ReadonlySet<string>;
  /** Largest top-level member (other than streamed arrays), in bytes. */
  readonly maxMemberBytes: number;
  /** Largest element of a streamed array, in bytes. */
  readonly maxElementBytes: number;
}

export class JsonPartsError extends Error {
  override readonly name = 'JsonPartsError';
  constructor(
    message: string,
    /** Byte offset in the (inflated) body. */
    readonly offset: number,
    /** True when the problem is a size cap (413), not malformed JSON (400). */
    readonly tooLarge = false,
  ) {
    super(`${message} at byte ${offset}`);
  }
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

/** Where the top-level grammar is. */
const enum At {
  Start, // before '{'
  KeyOrEnd, // after '{': a key or '}'
  Key, // after ',': a key
  Colon,
  Value, // before a member value
  AfterValue, // ',' or '}'
  ElemOrEnd, // inside a streamed array, after '[': an element or ']'
  Elem, // after ',' in a streamed array
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
  what: string;
}

export class JsonPartsParser {
  private at: At = At.Start;
  private offset = 0;
  private cap: Capture | null = null;
  private key: string | null = null;
  private readonly seen = new Set<string>();
  private streamKey: string | null = null;
  private count = 0;
  private out: ReportPart[] = [];

  constructor(private readonly options: JsonPartsOptions) {}

  /** Feed the next chunk; returns the parts completed by it. */
  push(chunk: Buffer): ReportPart[] {
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
          if (c !== LBRACE) throw new JsonPartsError('the report must be a JSON object', pos);
          this.at = At.KeyOrEnd;
          i++;
          break;
        case At.KeyOrEnd:
        case At.Key:
          if (c === RBRACE && this.at === At.KeyOrEnd) {
            this.at = At.Done;
            i++;
            break;
          }
          if (c !== QUOTE) throw new JsonPartsError('expected a member name', pos);
          this.begin(c, 64 * 1024, 'member name');
          break;
        case At.Colon:
          if (c !== COLON) throw new JsonPartsError("expected ':'", pos);
          this.at = At.Value;
          i++;
          break;
        case At.Value:
          if (c === LBRACKET && this.key !== null && this.options.streamed.has(this.key)) {
            this.streamKey = this.key;
            this.count = 0;
            this.at = At.ElemOrEnd;
            i++;
            break;
          }
          this.begin(c, this.options.maxMemberBytes, `member ${JSON.stringify(this.key)}`);
          break;
        case At.AfterValue:
          if (c === COMMA) this.at = At.Key;
          else if (c === RBRACE) this.at = At.Done;
          else throw new JsonPartsError("expected ',' or '}'", pos);
          i++;
          break;
        case At.ElemOrEnd:
        case At.Elem:
          if (c === RBRACKET && this.at === At.ElemOrEnd) {
            this.endArray();
            i++;
            break;
          }
          this.begin(c, this.options.maxElementBytes, `an element of ${JSON.stringify(this.streamKey)}`);
          break;
        case At.AfterElem:
          if (c === COMMA) this.at = At.Elem;
          else if (c === RBRACKET) this.endArray();
          else throw new JsonPartsError("expected ',' or ']'", pos);
          i++;
          break;
        case At.Done:
          throw new JsonPartsError('unexpected data after the report object', pos);
      }
    }
    this.offset += n;
    const out = this.out;
    this.out = [];
    return out;
  }

  /** The document ended: throws unless it was complete. */
  end(): ReportPart[] {
    if (this.cap !== null && this.cap.opener === 0 && this.cap.bytes > 0) this.finish();
    if (this.at !== At.Done) throw new JsonPartsError('the report is truncated', this.offset);
    const out = this.out;
    this.out = [];
    return out;
  }

  private begin(opener: number, limit: number, what: string): void {
    const isStructured = opener === QUOTE || opener === LBRACE || opener === LBRACKET;
    this.cap = { parts: [], bytes: 0, depth: 0, inString: false, escape: false, opener: isStructured ? opener : 0, limit, what };
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
      while (i < n) {
        if (cap.inString) {
          // Most of a report is string content: jump to the next quote or backslash natively.
          if (cap.escape) {
            cap.escape = false;
            i++;
            continue;
          }
          const q = chunk.indexOf(QUOTE, i);
          const b = q < 0 ? chunk.indexOf(BACKSLASH, i) : chunk.subarray(i, q).indexOf(BACKSLASH);
          if (b >= 0) {
            const at = q < 0 ? b : i + b;
            if (at + 1 < n) i = at + 2;
            else {
              cap.escape = true;
              i = n;
            }
            continue;
          }
          if (q < 0) {
            i = n;
            continue;
          }
          i = q + 1;
          cap.inString = false;
          if (cap.depth === 0) {
            done = true;
            break;
          }
          continue;
        }
        const c = chunk[i] as number;
        i++;
        if (c === QUOTE) cap.inString = true;
        else if (c === LBRACE || c === LBRACKET) cap.depth++;
        else if (c === RBRACE || c === RBRACKET) {
          cap.depth--;
          if (cap.depth === 0) {
            done = true;
            break;
          }
        }
      }
    }
    if (i > from) {
      cap.bytes += i - from;
      if (cap.bytes > cap.limit) throw new JsonPartsError(`${cap.what} is larger than ${cap.limit} bytes`, this.offset + i, true);
      cap.parts.push(chunk.subarray(from, i));
    }
    if (done) this.finish();
    return i;
  }

  private finish(): void {
    const cap = this.cap as Capture;
    this.cap = null;
    const raw = cap.parts.length === 1 ? (cap.parts[0] as Buffer) : Buffer.concat(cap.parts, cap.bytes);
    switch (this.at) {
      case At.KeyOrEnd:
      case At.Key: {
        let key: unknown;
        try {
          key = JSON.parse(raw.toString('utf8'));
        } catch {
          throw new JsonPartsError('malformed member name', this.offset);
        }
        if (typeof key !== 'string') throw new JsonPartsError('malformed member name', this.offset);
        if (this.seen.has(key)) throw new JsonPartsError(`duplicate member ${JSON.stringify(key)}`, this.offset);
        this.seen.add(key);
        this.key = key;
        this.at = At.Colon;
        return;
      }
      case At.Value:
        this.out.push({ kind: 'member', key: this.key as string, raw });
        this.at = At.AfterValue;
        return;
      case At.ElemOrEnd:
      case At.Elem:
        this.out.push({ kind: 'element', key: this.streamKey as string, index: this.count++, raw });
        this.at = At.AfterElem;
        return;
      default:
        throw new JsonPartsError('internal parser state', this.offset);
    }
  }

  private endArray(): void {
    this.out.push({ kind: 'end-array', key: this.streamKey as string, count: this.count });
    this.streamKey = null;
    this.at = At.AfterValue;
  }
}

/** Streams the parts of a report read from `source`. */
export async function* jsonParts(source: AsyncIterable<Buffer>, options: JsonPartsOptions): AsyncGenerator<ReportPart> {
  const parser = new JsonPartsParser(options);
  for await (const chunk of source) yield* parser.push(chunk);
  yield* parser.end();
}

/**
 * Calls `fn` for each part; awaits only when `fn` returns a promise (one await per chunk otherwise, instead of
 * one per part as with the async generator: a report has a part per package).
 */
export async function forEachPart(source: AsyncIterable<Buffer>, options: JsonPartsOptions, fn: (part: ReportPart) => void | Promise<void>): Promise<void> {
  const parser = new JsonPartsParser(options);
  for await (const chunk of source) {
    for (const part of parser.push(chunk)) {
      const r = fn(part);
      if (r !== undefined) await r;
    }
  }
  for (const part of parser.end()) {
    const r = fn(part);
    if (r !== undefined) await r;
  }
}
