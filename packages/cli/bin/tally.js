#!/usr/bin/env node
// Launcher kept in git so `npm ci` can link the `tally` bin before the build has produced dist/.
// It runs the bundled CLI (dist/tally.mjs, fast start-up) made by `npm run build`.
import('../dist/tally.mjs').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/tally.mjs')) {
    process.stderr.write('tally: not built yet: run `npm run build` in the repository first\n');
    process.exit(2);
  }
  throw err;
});
