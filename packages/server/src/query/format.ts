/**
 * Turns an AST back into query text that parses to the same AST (modulo spans). Used for logging a normalised
 * query, for showing the effective filter in a UI, and by the round-trip tests of the parser.
 */
import type { QueryNode, Value } from './ast.js';
import { isSpace } from './parse.js';

const PRECEDENCE: Readonly<Record<QueryNode['type'], number>> = { or: 1, and: 2, not: 3, field: 4, text: 4 };

export function formatQuery(node: QueryNode | null): string {
  return node === null ? '' : format(node);
}

function format(node: QueryNode): string {
  switch (node.type) {
    case 'field':
      return `${node.field}${node.opText}${formatValue(node.value, 'field')}`;
    case 'text':
      return formatValue(node.value, 'text');
    case 'not':
      return `NOT ${child(node.operand, PRECEDENCE.not)}`;
    case 'and':
      return node.operands.map((o) => child(o, PRECEDENCE.and)).join(' AND ');
    case 'or':
      return node.operands.map((o) => child(o, PRECEDENCE.or)).join(' OR ');
  }
}

/** Parenthesises an operand that binds more loosely than its parent (and equal-precedence groups, which never
 * occur in a flattened AST except through NOT, where `NOT NOT x` needs none). */
function child(node: QueryNode, parent: number): string {
  const text = format(node);
  return PRECEDENCE[node.type] < parent ? `(${text})` : text;
}

/** Characters that end or change a bare word; a value containing one is written in quotes. */
const SPECIAL = new Set(['(', ')', '"', '\\', '*', ':', '=', '<', '>', '!']);

function formatValue(value: Value, position: 'field' | 'text'): string {
  const literal = value.parts.filter((p) => p.type === 'literal').map((p) => p.text).join('');
  const keyword = /^(and|or|not)$/i.test(literal) && !value.hasWildcard;
  const bare =
    value.parts.length > 0 &&
    !keyword &&
    !(position === 'text' && value.text.startsWith('-')) &&
    !Array.from(literal).some((c) => isSpace(c) || SPECIAL.has(c));
  const body = value.parts
    .map((p) => (p.type === 'wildcard' ? '*' : bare ? p.text : p.text.replace(/[\\"*]/g, (c) => `\\${c}`)))
    .join('');
  return bare ? body : `"${body}"`;
}
