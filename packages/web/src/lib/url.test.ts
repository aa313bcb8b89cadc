import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { safeHttpUrl } from './url.js';

describe('reference links', () => {
  it('keeps http(s) URLs and refuses every other scheme', () => {
    assert.equal(safeHttpUrl('https://nvd.nist.gov/vuln/detail/CVE-2021-44906'), 'https://nvd.nist.gov/vuln/detail/CVE-2021-44906');
    assert.equal(safeHttpUrl('HTTP://example.com/a b'), 'http://example.com/a%20b');
    for (const bad of ['javascript:alert(1)', ' javascript:alert(1)', 'JaVaScRiPt:alert(1)', 'data:text/html,<script>alert(1)</script>', 'vbscript:x', '/relative', '//evil.example', 'ftp://x', '']) {
      assert.equal(safeHttpUrl(bad), null, bad);
    }
  });
});
