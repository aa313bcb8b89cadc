/**
 * The registry options shared by `tally scan registry:…` and the registry sensor: credentials, TLS trust, plain
 * HTTP, timeout. Kept apart from commands/scan.ts so every command that talks to a registry adds the same flags.
 */
import { readFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { TallyError, type RegistryOptions } from '@tally/core';

export interface RegistryFlags {
  username?: string;
  passwordStdin?: boolean;
  insecure?: boolean;
  caCert: string[];
  registryTimeout?: string;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

export function addRegistryOptions(cmd: Command): Command {
  return cmd
    .option('--username <user>', 'registry user name; the password comes from --password-stdin (default: credentials from ~/.docker/config.json)')
    .option('--password-stdin', 'read the registry password (or token) from standard input')
    .option('--insecure', 'talk plain HTTP to the registry (loopback registries fall back to HTTP on their own)')
    .addOption(new Option('--ca-cert <file>', "trust this CA certificate (PEM) for the registry's HTTPS; repeatable").argParser(collect).default([]))
    .option('--registry-timeout <seconds>', 'give up on a registry request that sends nothing for this long (default 30)');
}

/** Standard input, whole; one trailing newline is not part of the password (`echo $PW | tally … --password-stdin`). */
async function readPassword(stdin: AsyncIterable<unknown>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

export async function registryOptionsFromFlags(flags: RegistryFlags, stdin: AsyncIterable<unknown> = process.stdin): Promise<RegistryOptions> {
  if (flags.passwordStdin && flags.username === undefined) throw new TallyError('USAGE', '--password-stdin needs --username');
  if (flags.username !== undefined && !flags.passwordStdin) throw new TallyError('USAGE', '--username needs --password-stdin (passwords are never taken as arguments)');
  let password: string | undefined;
  if (flags.passwordStdin) {
    password = await readPassword(stdin);
    if (password === '') throw new TallyError('USAGE', '--password-stdin: standard input was empty');
  }
  const caCerts: string[] = [];
  for (const file of flags.caCert) {
    const pem = await readFile(file, 'utf8').catch((err: unknown) => {
      throw new TallyError('USAGE', `--ca-cert ${file}: ${(err as Error).message}`);
    });
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new TallyError('USAGE', `--ca-cert ${file}: not a PEM certificate`);
    caCerts.push(pem);
  }
  let timeoutMs: number | undefined;
  if (flags.registryTimeout !== undefined) {
    const seconds = Number(flags.registryTimeout);
    if (!Number.isFinite(seconds) || seconds <= 0) throw new TallyError('USAGE', `--registry-timeout ${JSON.stringify(flags.registryTimeout)}: expected a number of seconds`);
    timeoutMs = Math.round(seconds * 1000);
  }
  return {
    ...(flags.username !== undefined && password !== undefined ? { username: flags.username, password } : {}),
    ...(flags.insecure ? { insecure: true } : {}),
    ...(caCerts.length > 0 ? { caCerts } : {}),
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
  };
}
