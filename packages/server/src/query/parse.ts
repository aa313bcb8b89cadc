/**
 * Lexer and recursive-descent parser for the `q` search language (grammar in README.md beside this file).
 *
 * Everything the user typed ends up either in the AST as data or in a QuerySyntaxError; nothing here builds SQL.
 * Limits (length, depth, terms, wildcards) are enforced while parsing so that hostile input costs bounded work
 * before any database sees it: the recursion depth of the parser and of the compiler is bounded by `maxDepth`.
 */
import {
  OP_FROM_TEXT,
  type OpText,
  type QueryNode,
  type Span,
  type TermNode,
  type Value,
  type ValuePart,
} from './ast.js';
import { QuerySyntaxError } from './errors.js';

export interface ParseLimits {
  /** Maximum query size in UTF-8 bytes (what a URL carries), not characters. */
  readonly maxBytes: number;
  /** Maximum nesting of parentheses and NOT/`-` prefixes. */
  readonly maxDepth: number;
  /** Maximum number of terms (`field:value` or free-text words); each can become a subquery. */
  readonly maxTerms: number;
  /** Maximum `*` wildcards in one value; many `%` in one LIKE pattern make matching super-linear. */
  readonly maxWildcards: number;
}

export const DEFAULT_LIMITS: ParseLimits = { maxBytes: 4096, maxDepth: 32, maxTerms: 64, maxWildcards: 16 };

/**
 * Parses a query. Returns null for an empty (or all-whitespace) query, which means "no filter".
 * Throws QuerySyntaxError for anything malformed or over a limit.
 */
export function parseQuery(text: string, limits: Partial<ParseLimits> = {}): QueryNode | null {
  const lim: ParseLimits = { ...DEFAULT_LIMITS, ...limits };
  const columns = scanCharacters(text, lim.maxBytes);
  const tokens = new Lexer(text, columns, lim).lex();
  return new Parser(text, columns, tokens, lim).parse();
}

/** Field names: dotted identifiers such as `software.name`. Anything else before an operator is an error. */
const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$/;

export function isValidFieldName(name: string): boolean {
  return FIELD_NAME.test(name);
}

/** ASCII whitespace plus the Unicode spaces that sneak in when a query is pasted from a web page. */
export function isSpace(c: string): boolean {
  switch (c) {
    case ' ':
    case '\t':
    case '\n':
    case '\r':
    case '\u00a0':
    case '\u2000':
    case '\u2001':
    case '\u2002':
    case '\u2003':
    case '\u2004':
    case '\u2005':
    case '\u2006':
    case '\u2007':
    case '\u2008':
    case '\u2009':
    case '\u200a':
    case '\u202f':
    case '\u205f':
    case '\u3000':
      return true;
    default:
      return false;
  }
}

function codeUnitsAt(text: string, i: number): number {
  const c = text.charCodeAt(i);
  return c >= 0xd800 && c <= 0xdbff && i + 1 < text.length ? 2 : 1;
}

/**
 * One pass over the raw text before lexing: enforces the byte limit, rejects control characters (PostgreSQL
 * refuses NUL in text parameters, so letting one through would turn into a 500 there and a match on SQLite)
 * and lone surrogates (they cannot be encoded as UTF-8, and the drivers would silently replace them), and
 * builds the offset → column table used by every span.
 */
function scanCharacters(text: string, maxBytes: number): number[] {
  const columns: number[] = new Array<number>(text.length + 1);
  let bytes = 0;
  let column = 1;
  for (let i = 0; i < text.length; ) {
    const c = text.charCodeAt(i);
    columns[i] = column;
    let units = 1;
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = text.charCodeAt(i + 1);
      if (c > 0xdbff || !(next >= 0xdc00 && next <= 0xdfff)) {
        throw new QuerySyntaxError('invalid Unicode (unpaired surrogate)', i, column);
      }
      units = 2;
      columns[i + 1] = column;
      bytes += 4;
    } else {
      bytes += c < 0x80 ? 1 : c < 0x800 ? 2 : 3;
    }
    if (bytes > maxBytes) {
      throw new QuerySyntaxError(`query is longer than ${maxBytes} bytes`, i, column);
    }
    if ((c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) || c === 0x7f) {
      const hex = c.toString(16).toUpperCase().padStart(4, '0');
      throw new QuerySyntaxError(`control character U+${hex} is not allowed`, i, column);
    }
    i += units;
    column += 1;
  }
  columns[text.length] = column;
  return columns;
}

type Token =
  | { readonly kind: 'lparen' | 'rparen' | 'minus' | 'eof'; readonly offset: number; readonly length: number }
  | { readonly kind: 'and' | 'or' | 'not'; readonly offset: number; readonly length: number; readonly text: string }
  | { readonly kind: 'term'; readonly offset: number; readonly length: number; readonly node: TermNode };

/** One character of a bare word: a whole code point, and whether it was written with a backslash. */
interface Char {
  readonly ch: string;
  readonly escaped: boolean;
}

class Lexer {
  private readonly tokens: Token[] = [];
  private terms = 0;

  constructor(
    private readonly text: string,
    private readonly columns: readonly number[],
    private readonly limits: ParseLimits,
  ) {}

  lex(): Token[] {
    const text = this.text;
    let i = 0;
    while (i < text.length) {
      const c = text.charAt(i);
      if (isSpace(c)) {
        i += 1;
      } else if (c === '(' || c === ')') {
        this.tokens.push({ kind: c === '(' ? 'lparen' : 'rparen', offset: i, length: 1 });
        i += 1;
      } else if (c === '-') {
        // `-` is negation only when it is glued to what it negates; a lone `-` is almost always a typo.
        const next = text.charAt(i + 1);
        if (next === '' || isSpace(next) || next === ')') {
          throw this.error("expected a search term right after '-'", i);
        }
        this.tokens.push({ kind: 'minus', offset: i, length: 1 });
        i += 1;
      } else if (c === '"') {
        const { value, end } = this.quoted(i);
        this.pushTerm({ type: 'text', value, span: this.span(i, end - i) });
        i = end;
      } else {
        i = this.bare(i);
      }
    }
    this.tokens.push({ kind: 'eof', offset: text.length, length: 0 });
    return this.tokens;
  }

  private pushTerm(node: TermNode): void {
    this.terms += 1;
    if (this.terms > this.limits.maxTerms) {
      throw this.error(`more than ${this.limits.maxTerms} search terms`, node.span.offset);
    }
    this.tokens.push({ kind: 'term', offset: node.span.offset, length: node.span.length, node });
  }

  /** A bare word: a keyword, free text, or `field<op>value` (whose value may be a following quoted string). */
  private bare(start: number): number {
    const text = this.text;
    const head: Char[] = [];
    const tail: Char[] = [];
    let op: { readonly text: OpText; readonly offset: number } | undefined;
    let tailStart = -1;
    let i = start;
    while (i < text.length) {
      const c = text.charAt(i);
      if (isSpace(c) || c === '(' || c === ')' || c === '"') break;
      if (c === '\\') {
        if (i + 1 >= text.length) throw this.error("nothing to escape after '\\'", i);
        const n = codeUnitsAt(text, i + 1);
        (op === undefined ? head : tail).push({ ch: text.slice(i + 1, i + 1 + n), escaped: true });
        i += 1 + n;
        continue;
      }
      if (op === undefined) {
        const found = readOperator(text, i);
        if (found !== undefined) {
          op = { text: found, offset: i };
          i += found.length;
          tailStart = i;
          continue;
        }
      }
      const n = codeUnitsAt(text, i);
      (op === undefined ? head : tail).push({ ch: text.slice(i, i + n), escaped: false });
      i += n;
    }

    if (op === undefined) {
      if (text.charAt(i) === '"') throw this.error(`unexpected '"'`, i);
      const word = head.map((x) => x.ch).join('');
      const keyword = head.every((x) => !x.escaped) ? word.toLowerCase() : '';
      if (keyword === 'and' || keyword === 'or' || keyword === 'not') {
        this.tokens.push({ kind: keyword, offset: start, length: i - start, text: word });
        return i;
      }
      const value = this.value(head, false, start, i - start);
      this.pushTerm({ type: 'text', value, span: value.span });
      return i;
    }

    if (head.length === 0) throw this.error(`expected a field name before '${op.text}'`, op.offset);
    const field = head.map((x) => x.ch).join('');
    if (head.some((x) => x.escaped) || !isValidFieldName(field)) {
      throw this.error(`invalid field name '${field}'`, start, 'put text that contains an operator in double quotes');
    }
    let value: Value;
    let end = i;
    if (tail.length > 0) {
      if (text.charAt(i) === '"') throw this.error(`unexpected '"'`, i);
      value = this.value(tail, false, tailStart, i - tailStart);
    } else if (text.charAt(i) === '"') {
      const q = this.quoted(i);
      value = q.value;
      end = q.end;
    } else {
      throw this.error(`expected a value after '${op.text}'`, i);
    }
    this.pushTerm({
      type: 'field',
      field,
      fieldSpan: this.span(start, op.offset - start),
      op: OP_FROM_TEXT[op.text],
      opText: op.text,
      opSpan: this.span(op.offset, op.text.length),
      value,
      span: this.span(start, end - start),
    });
    return end;
  }

  /** A double-quoted string starting at `start`; `\` escapes the next character (`\"`, `\\`, `\*`). */
  private quoted(start: number): { value: Value; end: number } {
    const text = this.text;
    const chars: Char[] = [];
    let i = start + 1;
    for (;;) {
      if (i >= text.length) throw this.error('unterminated quoted value', start);
      const c = text.charAt(i);
      if (c === '"') break;
      if (c === '\\') {
        if (i + 1 >= text.length) throw this.error('unterminated quoted value', start);
        const n = codeUnitsAt(text, i + 1);
        chars.push({ ch: text.slice(i + 1, i + 1 + n), escaped: true });
        i += 1 + n;
        continue;
      }
      const n = codeUnitsAt(text, i);
      chars.push({ ch: text.slice(i, i + n), escaped: false });
      i += n;
    }
    const end = i + 1;
    const after = text.charAt(end);
    // `"a"b` is ambiguous (one value or two terms?), so it is rejected rather than guessed.
    if (after !== '' && !isSpace(after) && after !== '(' && after !== ')') {
      throw this.error(`unexpected '${text.slice(end, end + codeUnitsAt(text, end))}' after a quoted value`, end);
    }
    return { value: this.value(chars, true, start, end - start), end };
  }

  private value(chars: readonly Char[], quoted: boolean, offset: number, length: number): Value {
    const parts: ValuePart[] = [];
    let literal = '';
    let wildcards = 0;
    for (const c of chars) {
      if (c.ch === '*' && !c.escaped) {
        if (literal !== '') parts.push({ type: 'literal', text: literal });
        literal = '';
        // `**` means the same as `*`; collapsing keeps the LIKE pattern and the wildcard count honest.
        if (parts.at(-1)?.type !== 'wildcard') {
          parts.push({ type: 'wildcard' });
          wildcards += 1;
        }
      } else {
        literal += c.ch;
      }
    }
    if (literal !== '') parts.push({ type: 'literal', text: literal });
    if (wildcards > this.limits.maxWildcards) {
      throw this.error(`more than ${this.limits.maxWildcards} '*' wildcards in one value`, offset);
    }
    return {
      parts,
      text: parts.map((p) => (p.type === 'literal' ? p.text : '*')).join(''),
      hasWildcard: wildcards > 0,
      quoted,
      span: this.span(offset, length),
    };
  }

  private span(offset: number, length: number): Span {
    return { offset, length, column: this.columns[offset] ?? 1 };
  }

  private error(reason: string, offset: number, hint?: string): QuerySyntaxError {
    return new QuerySyntaxError(reason, offset, this.columns[offset] ?? 1, hint);
  }
}

/** The comparison operator starting at `i`, if any; two-character operators win over their one-character prefix. */
function readOperator(text: string, i: number): OpText | undefined {
  const c = text.charAt(i);
  const next = text.charAt(i + 1);
  switch (c) {
    case ':':
      return ':';
    case '=':
      return '=';
    case '!':
      return next === '=' ? '!=' : undefined;
    case '<':
      return next === '=' ? '<=' : '<';
    case '>':
      return next === '=' ? '>=' : '>';
    default:
      return undefined;
  }
}

class Parser {
  private pos = 0;

  constructor(
    private readonly text: string,
    private readonly columns: readonly number[],
    private readonly tokens: readonly Token[],
    private readonly limits: ParseLimits,
  ) {}

  parse(): QueryNode | null {
    if (this.peek().kind === 'eof') return null;
    const root = this.parseOr(0);
    const rest = this.peek();
    if (rest.kind !== 'eof') throw this.error(`unexpected ${this.describe(rest)}`, rest.offset);
    return root;
  }

  // or_expr = and_expr { "OR" and_expr }
  private parseOr(depth: number): QueryNode {
    const operands = [this.parseAnd(depth)];
    while (this.peek().kind === 'or') {
      const or = this.next();
      this.expectOperand(or);
      operands.push(this.parseAnd(depth));
    }
    return this.combine('or', operands);
  }

  // and_expr = unary { [ "AND" ] unary }    (juxtaposition is AND)
  private parseAnd(depth: number): QueryNode {
    const operands = [this.parseUnary(depth)];
    for (;;) {
      const t = this.peek();
      if (t.kind === 'and') {
        this.next();
        this.expectOperand(t);
        operands.push(this.parseUnary(depth));
      } else if (startsOperand(t)) {
        operands.push(this.parseUnary(depth));
      } else {
        return this.combine('and', operands);
      }
    }
  }

  // unary = ( "NOT" | "-" ) unary | primary
  private parseUnary(depth: number): QueryNode {
    const t = this.peek();
    if (t.kind !== 'not' && t.kind !== 'minus') return this.parsePrimary(depth);
    this.next();
    this.checkDepth(depth + 1, t.offset);
    this.expectOperand(t);
    const operand = this.parseUnary(depth + 1);
    return { type: 'not', operand, span: this.spanBetween(t.offset, operand.span) };
  }

  // primary = "(" or_expr ")" | term
  private parsePrimary(depth: number): QueryNode {
    const t = this.next();
    if (t.kind === 'term') return t.node;
    if (t.kind === 'lparen') {
      this.checkDepth(depth + 1, t.offset);
      this.expectOperand(t);
      const inner = this.parseOr(depth + 1);
      const close = this.peek();
      if (close.kind !== 'rparen') {
        throw this.error(
          close.kind === 'eof' ? `missing ')'` : `expected ')' instead of ${this.describe(close)}`,
          close.offset,
          `the '(' at column ${this.columns[t.offset] ?? 1} is not closed`,
        );
      }
      this.next();
      return inner;
    }
    throw this.error(t.kind === 'eof' ? 'expected a search term' : `unexpected ${this.describe(t)}`, t.offset);
  }

  private expectOperand(after: Token): void {
    const n = this.peek();
    if (startsOperand(n)) return;
    throw this.error(
      n.kind === 'eof' ? `expected a search term after ${this.describe(after)}` : `unexpected ${this.describe(n)}`,
      n.offset,
    );
  }

  private checkDepth(depth: number, offset: number): void {
    if (depth > this.limits.maxDepth) throw this.error(`nesting deeper than ${this.limits.maxDepth} levels`, offset);
  }

  private combine(type: 'and' | 'or', operands: readonly QueryNode[]): QueryNode {
    const first = operands[0];
    const last = operands.at(-1);
    if (first === undefined || last === undefined) throw new Error('parser invariant: no operands');
    if (operands.length === 1) return first;
    // (a AND b) AND c is a AND b AND c: flattening keeps the SQL shallow and the AST canonical.
    const flat = operands.flatMap((o) => ((o.type === 'and' || o.type === 'or') && o.type === type ? o.operands : [o]));
    return { type, operands: flat, span: this.spanBetween(first.span.offset, last.span) };
  }

  private spanBetween(offset: number, last: Span): Span {
    return { offset, length: last.offset + last.length - offset, column: this.columns[offset] ?? 1 };
  }

  private describe(t: Token): string {
    switch (t.kind) {
      case 'eof':
        return 'end of query';
      case 'lparen':
        return "'('";
      case 'rparen':
        return "')'";
      case 'minus':
        return "'-'";
      case 'and':
      case 'or':
      case 'not':
        return `'${t.text}'`;
      case 'term': {
        // Long values are cut so an error message stays readable (the column still locates the term).
        const source = Array.from(this.text.slice(t.offset, t.offset + t.length));
        return `'${source.length > 40 ? `${source.slice(0, 40).join('')}…` : source.join('')}'`;
      }
    }
  }

  private peek(): Token {
    const t = this.tokens[this.pos];
    if (t === undefined) throw new Error('parser invariant: read past eof');
    return t;
  }

  private next(): Token {
    const t = this.peek();
    if (t.kind !== 'eof') this.pos += 1;
    return t;
  }

  private error(reason: string, offset: number, hint?: string): QuerySyntaxError {
    return new QuerySyntaxError(reason, offset, this.columns[offset] ?? 1, hint);
  }
}

function startsOperand(t: Token): boolean {
  return t.kind === 'term' || t.kind === 'lparen' || t.kind === 'not' || t.kind === 'minus';
}
