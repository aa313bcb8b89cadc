/**
 * Compiles a parsed query to a kysely boolean expression, against a field table supplied by the server.
 *
 * Two phases, both exported:
 *   1. `resolveQuery(ast, table)` checks every field, operator and value against the table and turns values into
 *      typed conditions. All user-facing errors (QuerySyntaxError) come from here, so a route can validate `q`
 *      before it starts building a query.
 *   2. `buildCondition(resolved, eb)` asks each field's builder for SQL. User values only ever reach SQL as bound
 *      parameters: builders interpolate them into kysely's `sql` template (where `${value}` is a placeholder)
 *      or pass them to kysely's comparison helpers. Nothing here concatenates user text into SQL.
 * `compileQuery` does both.
 *
 * NULL handling: a field condition on a NULL column is unknown, and `NOT unknown` is unknown too, so a naive
 * `-os:alpine` would drop images whose OS is not known. The compiler tracks which sub-expressions may be NULL
 * (from the field specs' `nullable`) and compiles NOT over those as `NOT coalesce(x, false)`: the query behaves as
 * two-valued logic where "no value" never matches. NOT over EXISTS stays a plain `NOT EXISTS`, which the planners
 * turn into anti-joins.
 */
import { sql, type Expression, type ExpressionBuilder, type SelectQueryBuilder, type SqlBool, type StringReference } from 'kysely';
import type { CompareOp, FieldTerm, QueryNode, Span, TextTerm, Value, ValuePart } from './ast.js';
import { QuerySyntaxError } from './errors.js';
import { isValidFieldName, parseQuery, type ParseLimits } from './parse.js';
import { globMatch, likePattern, parseDate, parseNumber } from './values.js';

/** Which SQL the helpers emit for case-insensitive pattern matching; see `matchCondition`. */
export type Dialect = 'sqlite' | 'postgres';

/** The operators a builder sees: `!=` never reaches one, the compiler rewrites `a!=b` as `NOT a:b`. */
export type RangeOp = Exclude<CompareOp, 'ne'>;

/**
 * What a field builder is asked to test, already validated and normalised.
 * - string: `exact` is case-insensitive equality; `like` is a case-insensitive LIKE pattern (escaped for
 *   `ESCAPE '\'`), with the original parts for builders that match in another way.
 * - number: a comparison with a finite number.
 * - date: the half-open range from <= x < to (either end open), see values.ts for how `created>2026-01-01` maps.
 * - enum: membership in a non-empty list of canonical spellings taken from the spec's `values`.
 */
export type StringCondition =
  | { readonly kind: 'string'; readonly match: 'exact'; readonly value: string }
  | { readonly kind: 'string'; readonly match: 'like'; readonly pattern: string; readonly parts: readonly ValuePart[] };
export interface NumberCondition {
  readonly kind: 'number';
  readonly op: RangeOp;
  readonly value: number;
}
export interface DateCondition {
  readonly kind: 'date';
  readonly from: Date | null;
  readonly to: Date | null;
}
export interface EnumCondition {
  readonly kind: 'enum';
  readonly values: readonly string[];
}
export type Condition = StringCondition | NumberCondition | DateCondition | EnumCondition;

export interface BuildContext {
  readonly dialect: Dialect | undefined;
  /** The field's name as spelled in the table, for builders shared between fields. */
  readonly field: string;
}

export type ConditionBuilder<DB, TB extends keyof DB, C extends Condition> = (
  eb: ExpressionBuilder<DB, TB>,
  condition: C,
  ctx: BuildContext,
) => Expression<SqlBool>;

interface CommonSpec {
  /** Operators the field accepts; defaults per kind (see DEFAULT_OPS). `ne` implies `NOT eq`. */
  readonly ops?: readonly CompareOp[];
  /**
   * Whether the builder's expression can evaluate to NULL (a nullable column compared directly). Defaults to
   * true, the safe answer; EXISTS-based builders never produce NULL and say so to keep NOT EXISTS plain.
   */
  readonly nullable?: boolean;
  /** For API docs and error hints. */
  readonly description?: string;
}

export interface StringFieldSpec<DB, TB extends keyof DB> extends CommonSpec {
  readonly kind: 'string';
  readonly build: ConditionBuilder<DB, TB, StringCondition>;
}
export interface NumberFieldSpec<DB, TB extends keyof DB> extends CommonSpec {
  readonly kind: 'number';
  /** Reject fractional values: PostgreSQL fails on `int_column = '2.5'`, so they must not reach it. */
  readonly integer?: boolean;
  readonly build: ConditionBuilder<DB, TB, NumberCondition>;
}
export interface DateFieldSpec<DB, TB extends keyof DB> extends CommonSpec {
  readonly kind: 'date';
  readonly build: ConditionBuilder<DB, TB, DateCondition>;
}
export interface EnumFieldSpec<DB, TB extends keyof DB> extends CommonSpec {
  readonly kind: 'enum';
  /** Allowed values, matched case-insensitively; conditions carry these exact spellings (store them so). */
  readonly values: readonly string[];
  /** `values` are in ascending order, so `<`, `<=`, `>`, `>=` are meaningful (e.g. severities). */
  readonly ordered?: boolean;
  readonly build: ConditionBuilder<DB, TB, EnumCondition>;
}
export type FieldSpec<DB, TB extends keyof DB> =
  | StringFieldSpec<DB, TB>
  | NumberFieldSpec<DB, TB>
  | DateFieldSpec<DB, TB>
  | EnumFieldSpec<DB, TB>;

/** The searchable fields of one list endpoint, with `TB` the table(s) its main query selects from. */
export interface FieldTable<DB, TB extends keyof DB> {
  /** Field name (a dotted identifier; looked up case-insensitively) → how to test it. */
  readonly fields: Readonly<Record<string, FieldSpec<DB, TB>>>;
  /** String fields that free text (bare words, quoted phrases) searches, OR-ed together. */
  readonly defaultFields: readonly string[];
  /** Lets the helpers use ILIKE on PostgreSQL; without it they emit SQL that works on both. */
  readonly dialect?: Dialect | undefined;
}

export const DEFAULT_OPS: Readonly<Record<FieldSpec<unknown, never>['kind'], readonly CompareOp[]>> = {
  string: ['eq', 'ne'],
  number: ['eq', 'ne', 'lt', 'le', 'gt', 'ge'],
  date: ['eq', 'ne', 'lt', 'le', 'gt', 'ge'],
  enum: ['eq', 'ne'],
};

const OP_SYMBOL: Readonly<Record<CompareOp, string>> = {
  eq: ':',
  ne: '!=',
  lt: '<',
  le: '<=',
  gt: '>',
  ge: '>=',
};

export function allowedOps<DB, TB extends keyof DB>(spec: FieldSpec<DB, TB>): readonly CompareOp[] {
  if (spec.ops !== undefined) return spec.ops;
  if (spec.kind === 'enum' && spec.ordered === true) return DEFAULT_OPS.number;
  return DEFAULT_OPS[spec.kind];
}

// ---------------------------------------------------------------------------------------------------------------
// Phase 1: resolve

/** A query checked against a field table; build it with `buildCondition`. */
export type ResolvedQuery<DB, TB extends keyof DB> =
  | { readonly type: 'and' | 'or'; readonly operands: readonly ResolvedQuery<DB, TB>[] }
  | { readonly type: 'not'; readonly operand: ResolvedQuery<DB, TB> }
  | { readonly type: 'const'; readonly value: boolean }
  | {
      readonly type: 'leaf';
      readonly field: string;
      readonly condition: Condition;
      readonly nullable: boolean;
      readonly build: (eb: ExpressionBuilder<DB, TB>) => Expression<SqlBool>;
    };

export interface PreparedTable<DB, TB extends keyof DB> {
  readonly byName: ReadonlyMap<string, { readonly name: string; readonly spec: FieldSpec<DB, TB> }>;
  readonly names: readonly string[];
  readonly defaults: ReadonlyArray<{ readonly name: string; readonly spec: StringFieldSpec<DB, TB> }>;
  readonly dialect: Dialect | undefined;
}

/**
 * Checks a field table for programming mistakes (thrown as TypeError, not QuerySyntaxError: they are the
 * server's bugs, not the user's). Cheap enough to run per query; the server may also call it at startup.
 */
export function validateFieldTable<DB, TB extends keyof DB>(table: FieldTable<DB, TB>): PreparedTable<DB, TB> {
  const byName = new Map<string, { name: string; spec: FieldSpec<DB, TB> }>();
  for (const [name, spec] of Object.entries(table.fields)) {
    if (!isValidFieldName(name)) throw new TypeError(`field table: '${name}' cannot be written in a query`);
    const key = name.toLowerCase();
    const clash = byName.get(key);
    if (clash !== undefined) throw new TypeError(`field table: '${name}' and '${clash.name}' differ only in case`);
    const ops = allowedOps(spec);
    const ordering = ops.some((op) => op !== 'eq' && op !== 'ne');
    if (ordering && (spec.kind === 'string' || (spec.kind === 'enum' && spec.ordered !== true))) {
      throw new TypeError(`field table: '${name}' (${spec.kind}) cannot allow <, <=, >, >=`);
    }
    if (spec.kind === 'enum') {
      const seen = new Set(spec.values.map((v) => v.toLowerCase()));
      if (spec.values.length === 0 || seen.size !== spec.values.length) {
        throw new TypeError(`field table: enum '${name}' needs distinct values (case-insensitively)`);
      }
    }
    byName.set(key, { name, spec });
  }
  const defaults = table.defaultFields.map((name) => {
    const entry = byName.get(name.toLowerCase());
    if (entry === undefined || entry.spec.kind !== 'string') {
      throw new TypeError(`field table: default field '${name}' must be a string field of the table`);
    }
    return { name: entry.name, spec: entry.spec };
  });
  return {
    byName,
    names: [...byName.values()].map((e) => e.name).sort(),
    defaults,
    dialect: table.dialect,
  };
}

export function resolveQuery<DB, TB extends keyof DB>(
  ast: QueryNode | null,
  table: FieldTable<DB, TB>,
): ResolvedQuery<DB, TB> {
  const prepared = validateFieldTable(table);
  return ast === null ? { type: 'const', value: true } : resolveNode(ast, prepared);
}

function resolveNode<DB, TB extends keyof DB>(node: QueryNode, t: PreparedTable<DB, TB>): ResolvedQuery<DB, TB> {
  switch (node.type) {
    case 'and':
    case 'or': {
      // Free text resolves to an OR over the default fields; splicing it into an enclosing OR keeps the SQL flat.
      const type = node.type;
      const operands = node.operands.flatMap((o) => {
        const r = resolveNode(o, t);
        return r.type === type ? r.operands : [r];
      });
      return { type, operands };
    }
    case 'not':
      return { type: 'not', operand: resolveNode(node.operand, t) };
    case 'field':
      return resolveField(node, t);
    case 'text':
      return resolveText(node, t);
  }
}

function resolveText<DB, TB extends keyof DB>(term: TextTerm, t: PreparedTable<DB, TB>): ResolvedQuery<DB, TB> {
  if (t.defaults.length === 0) {
    throw spanError('free text is not searchable here; use field:value', term.span, `fields: ${t.names.join(', ')}`);
  }
  // A plain word matches anywhere in the field ("nginx" finds "library/nginx"); with a `*` the user has said
  // where it may float, so the value is taken as the whole pattern.
  const parts: readonly ValuePart[] = term.value.hasWildcard
    ? term.value.parts
    : [{ type: 'wildcard' }, ...term.value.parts, ...(term.value.parts.length > 0 ? [{ type: 'wildcard' } as const] : [])];
  const condition = stringCondition(parts);
  const leaves = t.defaults.map(({ name, spec }) => leaf(name, spec, condition, t.dialect, spec.build));
  const [only] = leaves;
  return leaves.length === 1 && only !== undefined ? only : { type: 'or', operands: leaves };
}

function resolveField<DB, TB extends keyof DB>(term: FieldTerm, t: PreparedTable<DB, TB>): ResolvedQuery<DB, TB> {
  const entry = t.byName.get(term.field.toLowerCase());
  if (entry === undefined) {
    throw spanError(`unknown field '${term.field}'`, term.fieldSpan, `known fields: ${t.names.join(', ')}`);
  }
  const { name, spec } = entry;
  const ops = allowedOps(spec);
  if (!ops.includes(term.op)) {
    throw spanError(
      `operator '${term.opText}' is not supported for field '${name}'`,
      term.opSpan,
      `use ${ops.map((op) => `'${OP_SYMBOL[op]}'`).join(', ')}`,
    );
  }
  if (term.op === 'ne') return { type: 'not', operand: resolveComparison(name, spec, 'eq', term, t) };
  return resolveComparison(name, spec, term.op, term, t);
}

function resolveComparison<DB, TB extends keyof DB>(
  name: string,
  spec: FieldSpec<DB, TB>,
  op: RangeOp,
  term: FieldTerm,
  t: PreparedTable<DB, TB>,
): ResolvedQuery<DB, TB> {
  const value = term.value;
  switch (spec.kind) {
    case 'string':
      return leaf(name, spec, stringCondition(value.parts), t.dialect, spec.build);

    case 'number': {
      noPattern(name, value, 'a number');
      const n = parseNumber(value.text);
      if (n === undefined) throw spanError(`field '${name}' expects a number, not '${value.text}'`, value.span);
      if (spec.integer === true && !Number.isInteger(n)) {
        throw spanError(`field '${name}' expects a whole number, not '${value.text}'`, value.span);
      }
      return leaf(name, spec, { kind: 'number', op, value: n }, t.dialect, spec.build);
    }

    case 'date': {
      noPattern(name, value, 'a date');
      const range = parseDate(value.text);
      if (range === undefined) {
        throw spanError(
          `field '${name}' expects a date, not '${value.text}'`,
          value.span,
          'write YYYY, YYYY-MM, YYYY-MM-DD or an ISO 8601 date-time such as 2026-01-31T12:00:00Z',
        );
      }
      const { start, end } = range;
      const bounds: Readonly<Record<RangeOp, readonly [Date | null, Date | null]>> = {
        eq: [start, end],
        gt: [end, null],
        ge: [start, null],
        lt: [null, start],
        le: [null, end],
      };
      const [from, to] = bounds[op];
      return leaf(name, spec, { kind: 'date', from, to }, t.dialect, spec.build);
    }

    case 'enum': {
      const hint = `expected one of: ${spec.values.join(', ')}`;
      let values: readonly string[];
      if (value.hasWildcard) {
        if (op !== 'eq') throw spanError(`a pattern cannot be compared with '${term.opText}'`, value.span);
        values = spec.values.filter((v) => globMatch(value.parts, v));
        if (values.length === 0) throw spanError(`'${value.text}' matches no value of field '${name}'`, value.span, hint);
      } else {
        const wanted = value.text.toLowerCase();
        const index = spec.values.findIndex((v) => v.toLowerCase() === wanted);
        if (index < 0) throw spanError(`unknown value '${value.text}' for field '${name}'`, value.span, hint);
        const ranges: Readonly<Record<RangeOp, readonly [number, number]>> = {
          eq: [index, index + 1],
          lt: [0, index],
          le: [0, index + 1],
          gt: [index + 1, spec.values.length],
          ge: [index, spec.values.length],
        };
        values = spec.values.slice(...ranges[op]);
      }
      // `severity>critical` is valid and matches nothing; an empty IN list is not valid SQL, so say it directly.
      if (values.length === 0) return { type: 'const', value: false };
      return leaf(name, spec, { kind: 'enum', values }, t.dialect, spec.build);
    }
  }
}

function leaf<DB, TB extends keyof DB, C extends Condition>(
  field: string,
  spec: CommonSpec,
  condition: C,
  dialect: Dialect | undefined,
  build: ConditionBuilder<DB, TB, C>,
): ResolvedQuery<DB, TB> {
  const ctx: BuildContext = { dialect, field };
  return {
    type: 'leaf',
    field,
    condition,
    nullable: spec.nullable ?? true,
    build: (eb) => build(eb, condition, ctx),
  };
}

function stringCondition(parts: readonly ValuePart[]): StringCondition {
  if (parts.every((p) => p.type === 'literal')) {
    return { kind: 'string', match: 'exact', value: parts.map((p) => (p.type === 'literal' ? p.text : '')).join('') };
  }
  return { kind: 'string', match: 'like', pattern: likePattern(parts), parts };
}

function noPattern(name: string, value: Value, what: string): void {
  if (value.hasWildcard) throw spanError(`field '${name}' expects ${what}; '*' patterns work on text fields`, value.span);
}

function spanError(reason: string, span: Span, hint?: string): QuerySyntaxError {
  return new QuerySyntaxError(reason, span.offset, span.column, hint);
}

// ---------------------------------------------------------------------------------------------------------------
// Phase 2: build

interface Built {
  readonly expr: Expression<SqlBool>;
  readonly maybeNull: boolean;
}

export function buildCondition<DB, TB extends keyof DB>(
  resolved: ResolvedQuery<DB, TB>,
  eb: ExpressionBuilder<DB, TB>,
): Expression<SqlBool> {
  return build(resolved, eb).expr;
}

function build<DB, TB extends keyof DB>(node: ResolvedQuery<DB, TB>, eb: ExpressionBuilder<DB, TB>): Built {
  switch (node.type) {
    case 'const':
      // Literal comparisons rather than TRUE/FALSE keywords, which older SQLite builds do not know.
      return { expr: node.value ? sql<SqlBool>`(1 = 1)` : sql<SqlBool>`(1 = 0)`, maybeNull: false };
    case 'leaf':
      return { expr: node.build(eb), maybeNull: node.nullable };
    case 'and':
    case 'or': {
      const parts = node.operands.map((o) => build(o, eb));
      const exprs = parts.map((p) => p.expr);
      return {
        expr: node.type === 'and' ? eb.and(exprs) : eb.or(exprs),
        maybeNull: parts.some((p) => p.maybeNull),
      };
    }
    case 'not': {
      const inner = build(node.operand, eb);
      const operand = inner.maybeNull ? sql<SqlBool>`coalesce(${inner.expr}, false)` : inner.expr;
      return { expr: eb.not(operand), maybeNull: false };
    }
  }
}

/** Parse-tree to SQL expression in one call: `db.selectFrom('images').where((eb) => compileQuery(ast, t, eb))`. */
export function compileQuery<DB, TB extends keyof DB>(
  ast: QueryNode | null,
  table: FieldTable<DB, TB>,
  eb: ExpressionBuilder<DB, TB>,
): Expression<SqlBool> {
  return buildCondition(resolveQuery(ast, table), eb);
}

/**
 * For routes: parses and resolves `q` now (throwing QuerySyntaxError for a 400 before any query is built) and
 * returns the filter to pass to `.where()`. An absent or blank `q` filters nothing.
 */
export function searchFilter<DB, TB extends keyof DB>(
  q: string | undefined,
  table: FieldTable<DB, TB>,
  limits: Partial<ParseLimits> = {},
): (eb: ExpressionBuilder<DB, TB>) => Expression<SqlBool> {
  const resolved = resolveQuery(q === undefined ? null : parseQuery(q, limits), table);
  return (eb) => buildCondition(resolved, eb);
}

/** One field as API documentation would list it (e.g. in the OpenAPI description of `q`). */
export interface FieldDescription {
  readonly name: string;
  readonly kind: FieldSpec<unknown, never>['kind'];
  readonly operators: readonly string[];
  readonly values?: readonly string[];
  readonly description?: string;
  readonly freeText: boolean;
}

export function describeFields<DB, TB extends keyof DB>(table: FieldTable<DB, TB>): FieldDescription[] {
  const prepared = validateFieldTable(table);
  const defaults = new Set(prepared.defaults.map((d) => d.name));
  return prepared.names.flatMap((name) => {
    const entry = prepared.byName.get(name.toLowerCase());
    if (entry === undefined) return [];
    const { spec } = entry;
    return [
      {
        name,
        kind: spec.kind,
        operators: allowedOps(spec).map((op) => OP_SYMBOL[op]),
        ...(spec.kind === 'enum' ? { values: spec.values } : {}),
        ...(spec.description === undefined ? {} : { description: spec.description }),
        freeText: defaults.has(name),
      },
    ];
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers for field tables

/** The kind part of a field spec, for the helpers below (they supply `build`). */
export type ColumnOptions = CommonSpec &
  (
    | { readonly kind: 'string' }
    | { readonly kind: 'number'; readonly integer?: boolean }
    | {
        readonly kind: 'date';
        /** How a Date is bound: ISO-8601 text by default (sorts correctly as TEXT and casts to timestamptz). */
        readonly toDb?: (date: Date) => string | number | Date;
      }
    | { readonly kind: 'enum'; readonly values: readonly string[]; readonly ordered?: boolean }
  );

/**
 * SQL testing one scalar expression (a column, `json_each.value`, …) against a condition. Every value is a
 * bound parameter. Case-insensitivity folds both sides with the database's own `lower()` rather than lowering
 * the parameter in JS, so the two sides are folded by the same rules (JS folds non-ASCII letters that SQLite's
 * built-in lower() leaves alone). `lower(col) = lower(?)` can use an index on `lower(col)` on both databases.
 * Each result is parenthesised so that a caller's NOT or AND cannot re-associate it.
 */
type LikeCondition = Extract<StringCondition, { match: 'like' }>;

/** Case-insensitive LIKE that both engines run (lower() on both sides). */
function portableLike(target: Expression<unknown>, condition: LikeCondition): Expression<SqlBool> {
  return sql<SqlBool>`(lower(${target}) LIKE lower(${condition.pattern}) ESCAPE '\\')`;
}

/**
 * SQLite's LIKE with ESCAPE never uses an index. A pattern that starts with literal text (`lodash*`) also gets the
 * range [prefix, prefix + U+10FFFF) on lower(target), which the lower(column) expression indexes serve: SQLite
 * compares text byte-wise (BINARY), so every string starting with the prefix lies in that range. `lower()` is applied
 * in SQL on both sides so its ASCII-only folding is the same as the LIKE's.
 */
function sqliteLike(target: Expression<unknown>, condition: LikeCondition): Expression<SqlBool> {
  const like = portableLike(target, condition);
  const first = condition.parts[0];
  if (first?.type !== 'literal' || first.text === '') return like;
  return sql<SqlBool>`(lower(${target}) >= lower(${first.text}) AND lower(${target}) < (lower(${first.text}) || char(1114111)) AND ${like})`;
}

export function matchCondition(
  target: Expression<unknown>,
  condition: Condition,
  ctx: BuildContext,
  toDb: (date: Date) => string | number | Date = isoString,
): Expression<SqlBool> {
  switch (condition.kind) {
    case 'string':
      if (condition.match === 'exact') return sql<SqlBool>`(lower(${target}) = lower(${condition.value}))`;
      // ESCAPE is spelled out because PostgreSQL's default escape can be changed and SQLite has none by default.
      if (ctx.dialect === 'postgres') return sql<SqlBool>`(${target} ILIKE ${condition.pattern} ESCAPE '\\')`;
      return ctx.dialect === 'sqlite' ? sqliteLike(target, condition) : portableLike(target, condition);
    case 'number': {
      const v = condition.value;
      switch (condition.op) {
        case 'eq':
          return sql<SqlBool>`(${target} = ${v})`;
        case 'lt':
          return sql<SqlBool>`(${target} < ${v})`;
        case 'le':
          return sql<SqlBool>`(${target} <= ${v})`;
        case 'gt':
          return sql<SqlBool>`(${target} > ${v})`;
        case 'ge':
          return sql<SqlBool>`(${target} >= ${v})`;
      }
      break;
    }
    case 'date': {
      const { from, to } = condition;
      if (from !== null && to !== null) {
        return sql<SqlBool>`(${target} >= ${toDb(from)} AND ${target} < ${toDb(to)})`;
      }
      if (from !== null) return sql<SqlBool>`(${target} >= ${toDb(from)})`;
      if (to !== null) return sql<SqlBool>`(${target} < ${toDb(to)})`;
      return sql<SqlBool>`(${target} IS NOT NULL)`;
    }
    case 'enum': {
      const [only] = condition.values;
      if (condition.values.length === 1 && only !== undefined) return sql<SqlBool>`(${target} = ${only})`;
      return sql<SqlBool>`(${target} IN (${sql.join(condition.values)}))`;
    }
  }
}

function isoString(date: Date): string {
  return date.toISOString();
}

function toDbOf(options: ColumnOptions): (date: Date) => string | number | Date {
  return options.kind === 'date' && options.toDb !== undefined ? options.toDb : isoString;
}

/** Assembles a spec of the right kind around a builder that handles any condition. */
function specOf<DB, TB extends keyof DB>(
  options: ColumnOptions,
  nullable: boolean,
  build: ConditionBuilder<DB, TB, Condition>,
): FieldSpec<DB, TB> {
  const common: CommonSpec = {
    nullable: options.nullable ?? nullable,
    ...(options.ops === undefined ? {} : { ops: options.ops }),
    ...(options.description === undefined ? {} : { description: options.description }),
  };
  switch (options.kind) {
    case 'string':
      return { ...common, kind: 'string', build };
    case 'number':
      return { ...common, kind: 'number', ...(options.integer === undefined ? {} : { integer: options.integer }), build };
    case 'date':
      return { ...common, kind: 'date', build };
    case 'enum':
      return {
        ...common,
        kind: 'enum',
        values: options.values,
        ...(options.ordered === undefined ? {} : { ordered: options.ordered }),
        build,
      };
  }
}

/**
 * A column of the main query's table(s): `column<DB, 'images'>('images.repo', { kind: 'string' })`.
 * Nullable unless `nullable: false` is given (then NOT compiles without coalesce).
 */
export function column<DB, TB extends keyof DB>(
  ref: StringReference<DB, TB>,
  options: ColumnOptions,
): FieldSpec<DB, TB> {
  const toDb = toDbOf(options);
  return specOf<DB, TB>(options, true, (eb, condition, ctx) => matchCondition(eb.ref(ref), condition, ctx, toDb));
}

/**
 * A column of a related table, tested through a correlated EXISTS: "some row of the child matches". `subquery`
 * selects from the child and correlates it with the outer row; `target` picks the child's column (or any
 * expression over it); the helper adds `SELECT 1` and the condition:
 *
 *   exists((eb) => eb.selectFrom('packages as p').whereRef('p.image_id', '=', 'images.id'),
 *          (p) => p.ref('p.name'), { kind: 'string' })
 *   → EXISTS (SELECT 1 FROM packages AS p WHERE p.image_id = images.id AND lower(p.name) = lower(?))
 *
 * `target` is a callback rather than a column name because TypeScript cannot infer the subquery's tables for a
 * plain string argument while the subquery callback is still being inferred; as a callback it is checked
 * against exactly the tables the subquery selects from.
 *
 * Each term is its own EXISTS: `software.name:a software.version:1` means some package is named a and some
 * package has version 1, not necessarily the same one.
 */
export function exists<DB, TB extends keyof DB, SDB, STB extends keyof SDB, O>(
  subquery: (eb: ExpressionBuilder<DB, TB>) => SelectQueryBuilder<SDB, STB, O>,
  target: (sub: ExpressionBuilder<SDB, STB>) => Expression<unknown>,
  options: ColumnOptions,
): FieldSpec<DB, TB> {
  const toDb = toDbOf(options);
  return specOf<DB, TB>(options, false, (eb, condition, ctx) =>
    eb.exists(
      subquery(eb)
        .clearSelect()
        .select(sql<number>`1`.as('one'))
        .where((sub) => matchCondition(target(sub), condition, ctx, toDb)),
    ),
  );
}
