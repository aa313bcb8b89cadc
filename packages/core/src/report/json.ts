import { writeText, type Formatter } from './formatter.js';

/** The report contract (docs/report-schema.md), pretty-printed. */
export const jsonFormatter: Formatter = {
  name: 'json',
  async write(report, out) {
    await writeText(out, JSON.stringify(report, null, 2) + '\n');
  },
};
