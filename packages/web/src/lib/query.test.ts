import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hasTerm, toggleTerm, withLayer } from './query.js';

describe('quick-filter edits of q', () => {
  it('adds and removes a top-level word, keeping the rest', () => {
    assert.equal(toggleTerm('', 'scanType', 'SCA'), 'scanType:SCA');
    assert.equal(toggleTerm('os:debian', 'scanType', 'SCA'), 'os:debian scanType:SCA');
    assert.equal(toggleTerm('os:debian scanType:SCA repo:x', 'scanType', 'SCA'), 'os:debian repo:x');
    assert.equal(toggleTerm('scantype=sca', 'scanType', 'SCA'), '');
  });
  it('sees only top-level AND-ed words as the filter', () => {
    assert.equal(hasTerm('os:debian scanType:SCA', 'scanType', 'SCA'), true);
    assert.equal(hasTerm('scanType:SCAx', 'scanType', 'SCA'), false);
    assert.equal(hasTerm('(scanType:SCA OR os:alpine)', 'scanType', 'SCA'), false);
    assert.equal(hasTerm('scanType:SCA OR os:alpine', 'scanType', 'SCA'), false);
    assert.equal(hasTerm('"scanType:SCA"', 'scanType', 'SCA'), false);
    assert.equal(hasTerm('(a OR b) scanType:SCA', 'scanType', 'SCA'), true);
  });
  it('parenthesises an OR before narrowing it', () => {
    assert.equal(toggleTerm('a OR b', 'scanType', 'SCA'), '(a OR b) scanType:SCA');
  });
  it('narrows to a layer and says how far the user text moved', () => {
    assert.deepEqual(withLayer('', 2), { q: 'layer:2', shift: 0 });
    assert.deepEqual(withLayer('name:x', 2), { q: '(name:x) layer:2', shift: 1 });
    assert.deepEqual(withLayer('name:x', null), { q: 'name:x', shift: 0 });
  });
});
