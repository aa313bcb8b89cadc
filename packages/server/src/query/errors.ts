/**
 * The one error type of the search language, for syntax errors and for errors found while compiling against a
 * field table (unknown field, wrong value kind, operator not allowed). The HTTP layer turns it into a 400; it
 * carries the position so a client can underline the offending character.
 */
export class QuerySyntaxError extends Error {
  override readonly name = 'QuerySyntaxError';
  /** What is wrong, without the position, for clients that show the column themselves. */
  readonly reason: string;
  /** Index into the query string (UTF-16 code units). */
  readonly offset: number;
  /** 1-based column in Unicode code points. */
  readonly column: number;
  /** Extra help (e.g. the list of known fields), also appended to `message`. */
  readonly hint: string | undefined;

  constructor(reason: string, offset: number, column: number, hint?: string) {
    super(`${reason} at column ${column}${hint === undefined ? '' : `; ${hint}`}`);
    this.reason = reason;
    this.offset = offset;
    this.column = column;
    this.hint = hint;
  }
}
