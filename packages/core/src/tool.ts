import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const manifest = require('../package.json') as { version: string };

/**
 * Tally's version, from the package.json one level above this module: packages/core's from src/ and dist/, and
 * packages/cli's inside the CLI bundle (dist/tally.mjs). The workspace packages are versioned together.
 */
export const TOOL_VERSION: string = manifest.version;
