import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { LANGUAGE_EXTRACTORS, OS_EXTRACTORS } from './registry.js';

function folders(kind: 'os' | 'lang'): string[] {
  const dir = new URL(`./${kind}/`, import.meta.url);
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => `${kind}/${d.name}`)
    .sort();
}

describe('extractor registry', () => {
  it('lists exactly one extractor per folder, named after it', () => {
    assert.deepEqual(OS_EXTRACTORS.map((e) => e.name).sort(), folders('os'));
    assert.deepEqual(LANGUAGE_EXTRACTORS.map((e) => e.name).sort(), folders('lang'));
  });
  it('gives OS extractors the Static scan type and language ones SCA', () => {
    for (const e of OS_EXTRACTORS) assert.equal(e.scanType, 'Static', e.name);
    for (const e of LANGUAGE_EXTRACTORS) assert.equal(e.scanType, 'SCA', e.name);
  });
});
