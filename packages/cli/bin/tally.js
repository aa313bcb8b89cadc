#!/usr/bin/env node
// Launcher kept in git so `npm ci` can link the `tally` bin before the TypeScript build has produced dist/.
import('../dist/main.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/main.js')) {
    process.stderr.write('tally: not built yet: run `npm run build` in the repository first\n');
    process.exit(2);
  }
  throw err;
});
