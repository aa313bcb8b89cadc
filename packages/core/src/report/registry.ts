import type { Formatter } from './formatter.js';
import { jsonFormatter } from './json.js';
import { tableFormatter } from './table.js';

/** Output formats by name, explicitly. */
export const FORMATTERS: ReadonlyMap<string, Formatter> = new Map([jsonFormatter, tableFormatter].map((f) => [f.name, f]));
