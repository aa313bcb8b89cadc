import { cyclonedxFormatter } from './cyclonedx.js';
import type { Formatter } from './formatter.js';
import { jsonFormatter } from './json.js';
import { junitFormatter } from './junit.js';
import { sarifFormatter } from './sarif.js';
import { spdxFormatter } from './spdx.js';
import { tableFormatter } from './table.js';

/** Output formats by name, explicitly. */
export const FORMATTERS: ReadonlyMap<string, Formatter> = new Map(
  [jsonFormatter, tableFormatter, cyclonedxFormatter, spdxFormatter, sarifFormatter, junitFormatter].map((f) => [f.name, f]),
);
