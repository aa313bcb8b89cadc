/** The `q` search language: parse to an AST, resolve against a field table, build a kysely condition. */
export type * from './ast.js';
export { QuerySyntaxError } from './errors.js';
export { DEFAULT_LIMITS, isValidFieldName, parseQuery, type ParseLimits } from './parse.js';
export { formatQuery } from './format.js';
export {
  allowedOps,
  buildCondition,
  column,
  compileQuery,
  DEFAULT_OPS,
  describeFields,
  exists,
  matchCondition,
  resolveQuery,
  searchFilter,
  validateFieldTable,
  type BuildContext,
  type ColumnOptions,
  type Condition,
  type ConditionBuilder,
  type DateCondition,
  type DateFieldSpec,
  type Dialect,
  type EnumCondition,
  type EnumFieldSpec,
  type FieldDescription,
  type FieldSpec,
  type FieldTable,
  type PreparedTable,
  type NumberCondition,
  type NumberFieldSpec,
  type RangeOp,
  type ResolvedQuery,
  type StringCondition,
  type StringFieldSpec,
} from './compile.js';
export { parseDate, parseNumber, type DateRange } from './values.js';
