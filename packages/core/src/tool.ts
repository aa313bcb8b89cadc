import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const manifest = require('../package.json') as { version: string };

/** Tally's version, from packages/core/package.json (the same relative path from src/ and dist/). */
export const TOOL_VERSION: string = manifest.version;
