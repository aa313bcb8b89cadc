import type { ExtractedPackage } from '../../extractor.js';

/** What a pure parser of this folder returns: the packages it could read and what it could not. */
export interface ParseResult {
  readonly packages: ExtractedPackage[];
  readonly problems: string[];
}

/** NuGet ids compare case-insensitively; versions as written (deps.json and lock files already normalise them). */
export function packageKey(name: string, version: string): string {
  return `${name.toLowerCase()}\0${version}`;
}

/** `Name/1.2.3` (deps.json library keys) → [name, version]; null when either side is empty. */
export function splitLibraryKey(key: string): [name: string, version: string] | null {
  const slash = key.indexOf('/');
  if (slash <= 0 || slash === key.length - 1) return null;
  return [key.slice(0, slash), key.slice(slash + 1)];
}

/** Cut an untrusted string for an issue message. */
export function quote(s: string): string {
  return JSON.stringify(s.length > 120 ? `${s.slice(0, 120)}…` : s);
}
