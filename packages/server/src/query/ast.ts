/**
 * The typed AST of the `q` search language. Every union here is closed: code that switches on `type` is checked
 * for exhaustiveness by the compiler, so adding a node kind forces every consumer to handle it.
 */

/** Where a piece of the AST came from in the query text. */
export interface Span {
  /** Index into the query string (UTF-16 code units, as `String.prototype.slice` counts). */
  readonly offset: number;
  /** Length in UTF-16 code units. */
  readonly length: number;
  /** 1-based column counted in Unicode code points, so an emoji counts as one column as a user sees it. */
  readonly column: number;
}

/** A run of literal characters, or a `*` wildcard. Escaped `\*` and a `*` never become wildcards. */
export type ValuePart = { readonly type: 'literal'; readonly text: string } | { readonly type: 'wildcard' };

export interface Value {
  /** Literal text and wildcards in order; consecutive literals are merged and consecutive wildcards collapsed. */
  readonly parts: readonly ValuePart[];
  /** Display text: literals with escapes removed and `*` for each wildcard (ambiguous with a literal `\*`). */
  readonly text: string;
  readonly hasWildcard: boolean;
  /** Written in double quotes (quotes only group; `*` inside quotes is still a wildcard unless escaped). */
  readonly quoted: boolean;
  readonly span: Span;
}

/** Comparison operators. `:` and `=` both mean `eq` (equality, or a pattern match when the value has `*`). */
export type CompareOp = 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge';

/** The operator as the user wrote it, kept for error messages and for formatting the query back. */
export type OpText = ':' | '=' | '!=' | '<' | '<=' | '>' | '>=';

/** `field<op>value`. */
export interface FieldTerm {
  readonly type: 'field';
  readonly field: string;
  readonly fieldSpan: Span;
  readonly op: CompareOp;
  readonly opText: OpText;
  readonly opSpan: Span;
  readonly value: Value;
  readonly span: Span;
}

/** A bare word or quoted phrase: free text searched in the field table's default fields. */
export interface TextTerm {
  readonly type: 'text';
  readonly value: Value;
  readonly span: Span;
}

/** `NOT x`, `-x`. */
export interface NotNode {
  readonly type: 'not';
  readonly operand: QueryNode;
  readonly span: Span;
}

/** Two or more operands; nested ANDs (or ORs) are flattened, so an operand is never of the same type. */
export interface AndNode {
  readonly type: 'and';
  readonly operands: readonly QueryNode[];
  readonly span: Span;
}

export interface OrNode {
  readonly type: 'or';
  readonly operands: readonly QueryNode[];
  readonly span: Span;
}

export type TermNode = FieldTerm | TextTerm;
export type QueryNode = AndNode | OrNode | NotNode | TermNode;

export const OP_FROM_TEXT: Readonly<Record<OpText, CompareOp>> = {
  ':': 'eq',
  '=': 'eq',
  '!=': 'ne',
  '<': 'lt',
  '<=': 'le',
  '>': 'gt',
  '>=': 'ge',
};
