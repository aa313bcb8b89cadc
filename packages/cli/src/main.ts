#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { isTallyError, TOOL_VERSION } from '@tally/core';
import { adminCommand } from './commands/admin.js';
import { dbCommand } from './commands/db.js';
import { scanCommand } from './commands/scan.js';
import { sensorCommand } from './commands/sensor.js';
import { serveCommand } from './commands/serve.js';
import { tokenCommand } from './commands/token.js';
import { registryCommand } from './commands/registry.js';
import { workerCommand } from './commands/worker.js';
import { EXIT } from './exit-codes.js';

function program(): Command {
  return new Command('tally')
    .description('Tally: container-image software composition analysis')
    .version(TOOL_VERSION)
    .exitOverride()
    .addCommand(scanCommand())
    .addCommand(dbCommand())
    .addCommand(serveCommand())
    .addCommand(sensorCommand())
    .addCommand(tokenCommand())
    .addCommand(registryCommand())
    .addCommand(workerCommand())
    .addCommand(adminCommand())
    .addHelpText('after', '\nExit status: 0 success, 1 policy failed (--fail-on), 2 usage or scan error. See docs/cli.md.');
}

/** One line that names the problem; a stack only with TALLY_DEBUG=1. */
function report(err: unknown): number {
  if (err instanceof CommanderError) {
    return err.exitCode === 0 ? EXIT.ok : EXIT.error; // commander already printed the message or help
  }
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`tally: ${isTallyError(err) ? `${message} [${err.code}]` : message}\n`);
  if (process.env['TALLY_DEBUG'] === '1' && err instanceof Error && err.stack) process.stderr.write(err.stack + '\n');
  return EXIT.error;
}

// No top-level await: the bundle is CommonJS (see scripts/bundle-cli.mjs), run from a V8 code cache.
program()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    process.exitCode = report(err);
  });
