/**
 * Acceptance of the web UI (issue 7) in real headless Chromium (Debian's /usr/bin/chromium driven by
 * playwright-core), against `tally serve` in its own process, loaded with real scans of the test images made by the
 * real CLI: sca-node scanned with SCA (Static + SCA), debian11-dsa without (Static only), an image with markup in
 * its package names and layer history, an image with 5,000 packages, and a General sensor's container list.
 *
 * Screenshots of every page at 1280 px and at phone width are written to $TALLY_E2E_SCREENSHOTS, else
 * test-output/screenshots/ (gitignored); the run prints the folder.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { apiGet, buildUi, installVulnDb, makeScratch, putContainers, repoRoot, serve, tally, testImagesRoot, uploadReport, type Served } from './harness.js';
import { HOSTILE_CREATED_BY, HOSTILE_NAME, LARGE_PACKAGES, largeReport, withHostileNpmPackage, writeHostileImage } from './fixtures.js';

interface List<T> {
  items: T[];
  total: number;
}
interface ImageRow {
  imageId: string;
  repoTags: string[];
  scanTypes: { scanType: string; active: boolean; scannedAt: string }[];
  vulnerabilities: { total: number };
}
interface VulnRow {
  id: string;
  scanType: string;
}
interface ContainerRow {
  name: string;
  imageId: string;
  vulnerabilities: { total: number; scope: string };
}
interface LayerRow {
  index: number;
  packages: { total: number };
  vulnerabilities: { total: number };
}

const CHROMIUM = process.env['TALLY_CHROMIUM'] ?? '/usr/bin/chromium';
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };
const shotsDir = process.env['TALLY_E2E_SCREENSHOTS'] ?? join(repoRoot, 'test-output', 'screenshots');
// Without a browser the acceptance cannot run: fail, naming the fix, unless skipping was asked for explicitly.
const skip = !existsSync(CHROMIUM) && process.env['TALLY_E2E_SKIP_BROWSER'] === '1' ? `no browser at ${CHROMIUM} (TALLY_E2E_SKIP_BROWSER=1)` : false;
if (!existsSync(CHROMIUM) && skip === false) {
  throw new Error(`the UI tests need Chromium at ${CHROMIUM}: apt-get install chromium (or set TALLY_CHROMIUM; TALLY_E2E_SKIP_BROWSER=1 skips them)`);
}

describe('web UI in headless Chromium against a real server', { timeout: 600_000, skip }, () => {
  const scratch = makeScratch();
  let server: Served;
  let context: BrowserContext;
  let page: Page;
  const tokens = { viewer: '', sensor: '' };
  const ids = { sca: '', staticOnly: '', hostile: '', large: '' };
  const dialogs: string[] = [];
  const consoleErrors: string[] = [];
  const pageErrors: string[] = [];
  const shots: string[] = [];

  const api = <T>(path: string) => apiGet<T>(server.url, tokens.viewer, path);
  const q = (s: string) => encodeURIComponent(s);
  const img = (id: string) => encodeURIComponent(id);

  /** Wait until no list is loading or being replaced. */
  const settled = async () => {
    await page.waitForFunction(() => document.querySelector('.state-loading, [aria-busy="true"]') === null, undefined, { timeout: 20_000 });
  };
  /** Load a page and wait until React has drawn it (a heading or a state) and its lists have arrived. */
  const open = async (path: string) => {
    await page.goto(`${server.url}${path}`);
    await page.locator('main h1, main .state').first().waitFor();
    await settled();
  };
  /**
   * After an action in the page (a click, a search), the URL changes before React renders the new state and
   * starts the request: poll what the page shows until it equals what the API says, then assert it.
   */
  const eventually = async <T>(read: () => Promise<T>, expected: T, message: string) => {
    const deadline = Date.now() + 10_000;
    let last = await read();
    while (!isDeepStrictEqual(last, expected) && Date.now() < deadline) {
      await page.waitForTimeout(50);
      last = await read();
    }
    assert.deepEqual(last, expected, message);
  };
  const sorted = (xs: readonly string[] | null) => [...(xs ?? [])].sort();
  const shot = async (name: string) => {
    const size = page.viewportSize();
    const file = join(shotsDir, `${name}-${size?.width ?? 0}.png`);
    await page.screenshot({ path: file, fullPage: true });
    shots.push(file);
  };
  /** Text of one column (found by its header's text, case-insensitive) of the first data table in the view. */
  const column = (header: string, scope = 'main') =>
    page.evaluate(
      ({ header, scope }) => {
        const table = document.querySelector(`${scope} table.data-table`);
        if (table === null) return null;
        const heads = [...table.querySelectorAll('thead th')].map((th) => (th.textContent ?? '').replace(/[▲▼↕]/g, '').trim().toLowerCase());
        const i = heads.indexOf(header.toLowerCase());
        if (i < 0) return null;
        return [...table.querySelectorAll('tbody tr')].map((tr) => (tr.children[i]?.textContent ?? '').trim());
      },
      { header, scope },
    );
  const pagerTotal = async () => {
    const text = await page.locator('.pager-range').first().textContent();
    const m = /of ([\d,]+)/.exec(text ?? '');
    return m?.[1] === undefined ? (/^No /.test(text ?? '') ? 0 : -1) : Number(m[1].replace(/,/g, ''));
  };

  before(async () => {
    mkdirSync(shotsDir, { recursive: true });
    const staticDir = buildUi();
    const dataDir = join(scratch.dir, 'data');
    const cache = installVulnDb(scratch.dir, dataDir);
    tokens.viewer = tally(['token', 'create', '--role', 'viewer', '--name', 'e2e viewer', '--data-dir', dataDir]).trim();
    tokens.sensor = tally(['token', 'create', '--role', 'sensor', '--name', 'e2e sensor', '--data-dir', dataDir]).trim();
    server = await serve(dataDir, staticDir);

    // Real scans by the real CLI (inventory only: the server matches against its own database).
    const images = testImagesRoot();
    const scan = (archive: string, sca: boolean) =>
      tally(['scan', archive, '--format', 'json', '--quiet', '--no-match', '--cache-dir', cache, ...(sca ? ['--perform-sca-scan'] : [])]);
    const scaReport = scan(join(images, 'sca-node', 'docker-archive.tar'), true);
    ids.sca = (await uploadReport(server.url, tokens.sensor, JSON.parse(scaReport), 'ci-runner-1')).imageId;
    ids.staticOnly = (await uploadReport(server.url, tokens.sensor, JSON.parse(scan(join(images, 'debian11-dsa', 'docker-archive.tar'), false)), 'ci-runner-1')).imageId;
    const hostile = withHostileNpmPackage(scan(await writeHostileImage(scratch.dir), true));
    ids.hostile = (await uploadReport(server.url, tokens.sensor, hostile, 'ci-runner-<b>2</b>')).imageId;
    ids.large = (await uploadReport(server.url, tokens.sensor, largeReport(scaReport), 'ci-runner-1')).imageId;
    await putContainers(server.url, tokens.sensor, 'docker-host-1', [
      { id: 'c'.repeat(64), name: 'web-1', imageId: ids.sca, image: 'tally-test/sca-node:latest', state: 'running', created: '2026-11-29T09:00:00Z', ports: [] },
      { id: 'd'.repeat(64), name: HOSTILE_NAME, imageId: ids.hostile, image: 'tally-test/hostile:latest', state: 'running', created: null, ports: [] },
    ]);

    const userDataDir = join(scratch.dir, 'chromium-profile');
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: DESKTOP,
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    console.log(`# screenshots: ${shotsDir}`);
  });

  after(async () => {
    await context?.close();
    await server?.stop();
    scratch.remove();
    writeFileSync(join(shotsDir, 'index.txt'), `${shots.map((s) => s.slice(shotsDir.length + 1)).join('\n')}\n`);
    console.log(`# ${shots.length} screenshots in ${shotsDir}`);
  });

  it('serves the UI with a CSP that allows no inline script, and deep links fall back to the app', async () => {
    const res = await fetch(`${server.url}/images/${img(ids.sca)}/layers`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/html/);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline/);
    const html = await res.text();
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline <script> in index.html');
    assert.doesNotMatch(html, /\sstyle=/, 'no style attribute in index.html');
    const unknownApi = await fetch(`${server.url}/api/v1/nope`, { headers: { authorization: `Bearer ${tokens.viewer}` } });
    assert.equal(unknownApi.status, 404, 'the API keeps its JSON 404');
  });

  it('signs in with a token kept only in session storage', async () => {
    await page.goto(`${server.url}/images`);
    await page.getByLabel('API token').waitFor();
    await shot('sign-in');
    await page.getByLabel('API token').fill('tly_wrong_token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('The server does not know this token').waitFor();
    await page.getByLabel('API token').fill(tokens.viewer);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Images', level: 1 }).waitFor();
    await settled();
    const storage = await page.evaluate(() => ({ session: Object.keys(sessionStorage), local: localStorage.length, cookie: document.cookie, url: location.href }));
    assert.deepEqual(storage.session, ['tally.token']);
    assert.equal(storage.local, 0, 'nothing in localStorage');
    assert.equal(storage.cookie, '', 'no cookie');
    assert.ok(!storage.url.includes(tokens.viewer), 'not in the URL');
    assert.equal((await context.cookies()).length, 0);
  });

  it('Images: the scanType:SCA search shows only SCA-scanned images, and the URL holds it', async () => {
    const all = await api<List<ImageRow>>('/api/v1/images?limit=100');
    assert.equal(all.total, 4);
    const sca = await api<List<ImageRow>>(`/api/v1/images?limit=100&q=${q('scanType:SCA')}`);
    assert.ok(!sca.items.some((i) => i.imageId === ids.staticOnly), 'the Static-only image is not an SCA image');

    await page.getByLabel('Search images').fill('scanType:SCA');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.waitForURL(/[?&]q=scanType%3ASCA/);
    const expectedIds = sorted(sca.items.map((i) => i.imageId.slice(7, 19)));
    await eventually(async () => sorted(await column('Image ID')), expectedIds, 'the SCA images, and only them');
    assert.ok(!expectedIds.includes(ids.staticOnly.slice(7, 19)));
    const scanTypes = await column('Scan types');
    assert.ok(scanTypes?.every((s) => s.includes('SCA')), `every row has SCA: ${JSON.stringify(scanTypes)}`);
    assert.equal(await page.getByRole('button', { name: 'SCA', exact: true }).getAttribute('aria-pressed'), 'true');
    await shot('images-search-sca');

    // A bookmark of the search opens the same list.
    await page.reload();
    await eventually(() => page.getByLabel('Search images').inputValue(), 'scanType:SCA', 'the search is back in the box');
    await eventually(async () => sorted(await column('Image ID')), expectedIds, 'the bookmarked search lists the same images');

    // The quick filter removes and adds the same word.
    await page.getByRole('button', { name: 'SCA', exact: true }).click();
    await eventually(() => page.getByLabel('Search images').inputValue(), '', 'the quick filter took its word out');
    await eventually(async () => (await column('Image ID'))?.length, all.total, 'every image again');
    await page.getByRole('button', { name: 'Static', exact: true }).click();
    await page.waitForURL(/q=scanType%3AStatic/);

    // Sorting is the server's, and the URL keeps it.
    await open('/images');
    await page.locator('th', { hasText: 'Total' }).getByRole('button').click();
    await page.waitForURL(/sort=-vulnerabilities/);
    const byTotal = await api<List<ImageRow>>('/api/v1/images?sort=-vulnerabilities');
    await eventually(async () => column('Image ID'), byTotal.items.map((i) => i.imageId.slice(7, 19)), 'the server\'s order');
    const totals = ((await column('Total')) ?? []).map(Number);
    assert.deepEqual(totals, [...totals].sort((a, b) => b - a));
  });

  it('a bad search shows the parser message and points at its column', async () => {
    const bad = 'os:debian )';
    const res = await fetch(`${server.url}/api/v1/images?q=${q(bad)}`, { headers: { authorization: `Bearer ${tokens.viewer}` } });
    const body = (await res.json()) as { message: string; column: number };
    assert.equal(res.status, 400);
    await open(`/images?q=${q(bad)}`);
    const alert = page.locator('.query-error');
    await alert.waitFor();
    const text = (await alert.textContent()) ?? '';
    assert.ok(text.includes(body.message.replace(/^invalid search: /, '')), `${text} has the parser's message ${body.message}`);
    assert.match(text, new RegExp(`column ${body.column}`));
    const caretLine = ((await page.locator('.query-caret').textContent()) ?? '').split('\n')[1] ?? '';
    assert.equal(caretLine.indexOf('^'), body.column - 1, 'the caret stands under the column');
    assert.equal(await page.getByLabel('Search images').getAttribute('aria-invalid'), 'true');
    const selection = await page.getByLabel('Search images').evaluate((el) => (el as HTMLInputElement).selectionStart);
    assert.equal(selection, body.column - 1, 'the cursor is put at the column');
    await shot('images-bad-query');
  });

  it('Summary: the Scan Types field lists every scan type run and when', async () => {
    const detail = await api<ImageRow>(`/api/v1/images/${img(ids.sca)}`);
    await open(`/images/${img(ids.sca)}`);
    const field = page.locator('dt', { hasText: /^Scan Types$/ }).locator('xpath=following-sibling::dd[1]');
    const text = (await field.textContent()) ?? '';
    assert.deepEqual(
      detail.scanTypes.map((s) => s.scanType),
      ['Static', 'SCA'],
    );
    for (const s of detail.scanTypes) {
      assert.ok(text.includes(s.scanType), `${s.scanType} listed`);
      const d = new Date(s.scannedAt);
      const pad = (n: number) => String(n).padStart(2, '0');
      const when = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())} UTC`;
      assert.ok(text.includes(when), `${s.scanType} shows when it ran (${when}) in ${text}`);
    }
    const staticOnly = await api<ImageRow>(`/api/v1/images/${img(ids.staticOnly)}`);
    await open(`/images/${img(ids.staticOnly)}/summary`);
    const other = (await page.locator('dt', { hasText: /^Scan Types$/ }).locator('xpath=following-sibling::dd[1]').textContent()) ?? '';
    assert.deepEqual(
      staticOnly.scanTypes.map((s) => s.scanType),
      ['Static'],
    );
    assert.ok(other.includes('Static') && !other.includes('SCA'));
  });

  it('Installed Software: the Packages filter switches All / OS / Non-OS and its counts match the API', async () => {
    await open(`/images/${img(ids.sca)}/software`);
    for (const [label, scope] of [
      ['Non-OS', 'non-os'],
      ['OS', 'os'],
      ['All', 'all'],
    ] as const) {
      const expected = await api<List<{ class: string; type: string }>>(`/api/v1/images/${img(ids.sca)}/software?packages=${scope}&limit=25`);
      // A click, not check(): the radio is controlled by the URL, which React Router updates in a transition.
      await page.getByRole('radio', { name: new RegExp(`^${label}\\b`) }).click();
      await page.waitForFunction((s) => (s === 'all' ? !location.search.includes('packages=') : location.search.includes(`packages=${s}`)), scope);
      await eventually(() => page.getByRole('radio', { name: new RegExp(`^${label}\\b`) }).isChecked(), true, `${label} is checked`);
      await eventually(pagerTotal, expected.total, `${label}: the pager says the API's total`);
      const count = async () => Number(((await page.locator(`.count[data-scope="${scope}"]`).textContent()) ?? '').replace(/[^\d]/g, ''));
      await eventually(count, expected.total, `${label}: the filter's count is the API's total`);
      await eventually(async () => (await column('Type')) ?? [], expected.items.map((p) => p.type), `${label}: the rows are the API's rows`);
      const types = (await column('Type')) ?? [];
      if (scope === 'os') assert.ok(types.every((t) => t === 'deb'));
      if (scope === 'non-os') assert.ok(types.every((t) => t !== 'deb'));
      await shot(`image-software-filter-${scope}`);
    }
    const os = await api<List<unknown>>(`/api/v1/images/${img(ids.sca)}/software?packages=os&limit=1`);
    const nonOs = await api<List<unknown>>(`/api/v1/images/${img(ids.sca)}/software?packages=non-os&limit=1`);
    const all = await api<List<unknown>>(`/api/v1/images/${img(ids.sca)}/software?limit=1`);
    assert.ok(os.total > 0 && nonOs.total > 0);
    assert.equal(os.total + nonOs.total, all.total);

    // Its own search box, with the scan-type quick filter.
    await page.getByRole('button', { name: 'SCA', exact: true }).click();
    await page.waitForURL(/q=scanType%3ASCA/);
    await eventually(pagerTotal, nonOs.total, 'scanType:SCA finds the language packages');
    assert.ok(((await column('Scan type')) ?? []).every((s) => s === 'SCA'));
  });

  it('Vulnerabilities: the SCAN TYPE column holds each detection\'s scan type', async () => {
    const expected = await api<List<VulnRow>>(`/api/v1/images/${img(ids.sca)}/vulnerabilities?limit=100`);
    assert.ok(expected.total > 0);
    const kinds = new Set(expected.items.map((v) => v.scanType));
    assert.ok(kinds.has('Static') && kinds.has('SCA'), `both kinds among the detections: ${[...kinds].join(', ')}`);
    await open(`/images/${img(ids.sca)}/vulnerabilities?limit=100`);
    const header = await page.locator('[role="tabpanel"] thead th', { hasText: /^Scan type/ }).innerText();
    assert.match(header, /^SCAN TYPE/, 'the header reads SCAN TYPE');
    await eventually(() => column('Scan type'), expected.items.map((v) => v.scanType), 'the SCAN TYPE column is the API\'s');
    assert.deepEqual(await column('ID'), expected.items.map((v) => v.id));
    assert.equal(await pagerTotal(), expected.total);
    const note = (await page.locator('aside.note').textContent()) ?? '';
    const osOnly = await api<List<VulnRow>>(`/api/v1/images/${img(ids.sca)}/vulnerabilities?q=class:os&limit=1`);
    assert.match(note, /fewer/);
    assert.ok(note.includes(`${osOnly.total} vulnerabilit`), `the note gives the OS-only count ${osOnly.total}: ${note}`);

    const sca = await api<List<VulnRow>>(`/api/v1/images/${img(ids.sca)}/vulnerabilities?limit=100&q=${q('scanType:SCA')}`);
    await page.getByLabel('Search vulnerabilities').fill('scanType:SCA');
    await page.getByLabel('Search vulnerabilities').press('Enter');
    await page.waitForURL(/q=scanType%3ASCA/);
    await eventually(pagerTotal, sca.total, 'scanType:SCA counts the SCA detections');
    await eventually(() => column('Scan type'), sca.items.map((v) => v.scanType), 'only SCA rows');
    assert.ok(sca.items.every((v) => v.scanType === 'SCA'));
  });

  it('Layers: one row per layer, charts drawn as SVG, and choosing a layer narrows the other tabs', async () => {
    const layers = await api<List<LayerRow>>(`/api/v1/images/${img(ids.sca)}/layers`);
    await open(`/images/${img(ids.sca)}/layers`);
    assert.equal((await column('Layer'))?.length, layers.total);
    assert.equal(await page.locator('svg.bar-chart g[role="button"]').count(), layers.total);
    assert.equal(await page.locator('figure.donut svg circle').count() > 1, true);
    const target = [...layers.items].sort((a, b) => b.packages.total - a.packages.total)[0];
    assert.ok(target !== undefined);
    await page.locator('svg.bar-chart g[role="button"]').nth(layers.items.indexOf(target)).click();
    await page.waitForURL(new RegExp(`layer=${target.index}`));
    await shot('image-layers-selected');
    await page.getByRole('link', { name: 'Its packages' }).click();
    await page.waitForURL(/\/software\?layer=/);
    const inLayer = await api<List<unknown>>(`/api/v1/images/${img(ids.sca)}/software?limit=1&q=${q(`layer:${target.index}`)}`);
    await eventually(pagerTotal, inLayer.total, 'the layer\'s packages');
    assert.equal(inLayer.total, target.packages.total);
    assert.ok(((await column('Layer')) ?? []).every((l) => l.startsWith(`L${target.index}`)));
    await page.getByRole('tab', { name: 'Vulnerabilities' }).click();
    await page.waitForURL(/\/vulnerabilities\?layer=/);
    await eventually(pagerTotal, target.vulnerabilities.total, 'the layer\'s vulnerabilities');
    await page.getByRole('button', { name: 'Show all layers' }).click();
    await page.waitForURL((u) => !u.search.includes('layer='));
  });

  it('Containers: General-sensor containers with OS-only vulnerability counts', async () => {
    const list = await api<List<ContainerRow>>('/api/v1/containers');
    const web = list.items.find((c) => c.name === 'web-1');
    assert.ok(web !== undefined);
    const image = await api<ImageRow>(`/api/v1/images/${img(ids.sca)}`);
    const osOnly = await api<List<unknown>>(`/api/v1/images/${img(ids.sca)}/vulnerabilities?q=class:os&limit=1`);
    assert.equal(web.vulnerabilities.scope, 'os');
    assert.equal(web.vulnerabilities.total, osOnly.total);
    assert.ok(web.vulnerabilities.total < image.vulnerabilities.total, 'fewer than the image holds');
    await open('/containers');
    const names = (await column('Name')) ?? [];
    const counts = await page.evaluate(() => [...document.querySelectorAll('main tbody tr')].map((tr) => tr.querySelector('.os-total')?.textContent ?? ''));
    const row = names.findIndex((n) => n.startsWith('web-1'));
    assert.ok(row >= 0);
    assert.equal(Number(counts[row]), osOnly.total, "the page shows the image's OS-only count");
    assert.notEqual(Number(counts[row]), image.vulnerabilities.total);
    assert.ok(names.some((n) => n.startsWith(HOSTILE_NAME)), 'a hostile container name is shown as text');
  });

  it('untrusted names render as text and run nothing', async () => {
    await open(`/images/${img(ids.hostile)}/software`);
    const names = (await column('Name')) ?? [];
    assert.equal(names.filter((n) => n === HOSTILE_NAME).length, 2, `the dpkg and the npm package, as text: ${JSON.stringify(names)}`);
    assert.equal(await page.locator('img').count(), 0, 'no <img> element anywhere');
    assert.equal(await page.locator('main script, main svg[onload], [onerror]').count(), 0);
    await shot('hostile-software');
    await open(`/images/${img(ids.hostile)}/layers`);
    assert.ok(((await column('Created by')) ?? []).includes(HOSTILE_CREATED_BY));
    assert.equal(await page.locator('main script').count(), 0);
    await shot('hostile-layers');
    await open(`/images?q=${q(`software.name:${JSON.stringify(HOSTILE_NAME)}`)}`);
    assert.deepEqual(await column('Image ID'), [ids.hostile.slice(7, 19)]);
    await open(`/software?q=${q(`name:${JSON.stringify(HOSTILE_NAME)}`)}`);
    assert.deepEqual(await column('Name'), [HOSTILE_NAME, HOSTILE_NAME]);
    await open('/sensors');
    assert.ok(((await column('Host')) ?? []).includes('ci-runner-<b>2</b>'));
    assert.equal(await page.locator('main b').count(), 0);
    // Give any injected handler a moment to fire before checking.
    await page.waitForTimeout(300);
    assert.deepEqual(dialogs, [], 'no dialog opened');
  });

  it(`large image: Installed Software of an image with ${LARGE_PACKAGES.toLocaleString('en')} packages renders and filters without freezing`, async () => {
    const all = await api<List<unknown>>(`/api/v1/images/${img(ids.large)}/software?limit=1`);
    assert.ok(all.total > LARGE_PACKAGES);
    const t0 = Date.now();
    await open(`/images/${img(ids.large)}/software`);
    const firstPage = Date.now() - t0;
    assert.equal(await pagerTotal(), all.total);
    assert.equal(await page.locator('[role="tabpanel"] tbody tr').count(), 25, 'one page of rows in the DOM, not thousands');
    // The main thread stays free: a timer set now fires on time while the page is up.
    const lag = await page.evaluate(
      () =>
        new Promise<number>((resolve) => {
          const start = performance.now();
          setTimeout(() => resolve(performance.now() - start - 50), 50);
        }),
    );
    assert.ok(lag < 200, `timer lag ${lag} ms`);
    const t1 = Date.now();
    await page.getByLabel('Search installed software').fill('name:synthetic-pkg-04*');
    await page.getByLabel('Search installed software').press('Enter');
    await page.waitForURL(/q=name%3Asynthetic-pkg-04/);
    await eventually(pagerTotal, 1000, 'synthetic-pkg-04000 … 04999');
    const filtered = Date.now() - t1;
    assert.ok(firstPage < 10_000 && filtered < 5_000, `first page ${firstPage} ms, filtered ${filtered} ms`);
    console.log(`# large image: first page in ${firstPage} ms, filtered to 1,000 of ${all.total} in ${filtered} ms`);
    await page.getByRole('button', { name: 'Next ›' }).click();
    await page.waitForURL(/page=2/);
    await eventually(async () => (await column('Name'))?.[0], 'synthetic-pkg-04025', 'the second page');
    await shot('large-software');
  });

  it('keyboard: arrow keys move between tabs and table rows; Enter opens a row', async () => {
    await open(`/images/${img(ids.sca)}/summary`);
    await page.getByRole('tab', { name: 'Summary' }).focus();
    await page.keyboard.press('ArrowRight');
    await page.waitForURL(/\/software$/);
    // The URL changes a render before the tabs do: wait for them rather than race them.
    await eventually(() => page.getByRole('tab', { name: 'Installed Software' }).getAttribute('aria-selected'), 'true', 'the Installed Software tab selected');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'tab-software');
    assert.equal(await page.getByRole('tab', { name: 'Summary' }).getAttribute('tabindex'), '-1');
    await page.keyboard.press('End');
    await page.waitForURL(/\/layers$/);
    await page.keyboard.press('Home');
    await page.waitForURL(/\/summary$/);
    await page.keyboard.press('ArrowLeft');
    await page.waitForURL(/\/layers$/);

    await open('/images?sort=imageId');
    await eventually(async () => (await column('Image ID'))?.length, 4, 'the images');
    const rows = page.locator('main tbody tr');
    await rows.first().focus();
    await page.keyboard.press('ArrowDown');
    assert.equal(await page.evaluate(() => document.activeElement === document.querySelectorAll('main tbody tr')[1]), true);
    assert.equal(await rows.nth(1).getAttribute('tabindex'), '0');
    assert.equal(await rows.first().getAttribute('tabindex'), '-1');
    const secondId = (await column('Image ID'))?.[1] ?? '';
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/images\/sha256%3A[0-9a-f]+\/summary/);
    assert.ok(decodeURIComponent(page.url()).includes(secondId));
  });

  it('Software and Vulnerabilities across images search scanType:SCA; a vulnerability has its own page', async () => {
    const software = await api<List<{ scanTypes: string[] }>>(`/api/v1/software?q=${q('scanType:SCA')}&limit=25`);
    await open(`/software?q=${q('scanType:SCA')}`);
    assert.equal(await pagerTotal(), software.total);
    assert.ok(((await column('Scan types')) ?? []).every((s) => s.includes('SCA')));

    const vulns = await api<List<{ id: string; scanTypes: string[] }>>(`/api/v1/vulnerabilities?q=${q('scanType:SCA')}&limit=25`);
    assert.ok(vulns.total > 0);
    await open(`/vulnerabilities?q=${q('scanType:SCA')}`);
    assert.equal(await pagerTotal(), vulns.total);
    assert.deepEqual(await column('ID'), vulns.items.map((v) => v.id));

    const first = vulns.items[0];
    assert.ok(first !== undefined);
    const detail = await api<{ aliases: string[]; references: string[]; affected: { images: number } }>(`/api/v1/vulnerabilities/${encodeURIComponent(first.id)}`);
    await page.getByRole('link', { name: first.id, exact: true }).click();
    await page.getByRole('heading', { name: first.id, level: 1 }).waitFor();
    await settled();
    const refs = await page.locator('dt:text-is("References") + dd a').evaluateAll((as) => as.map((a) => ({ href: a.getAttribute('href'), rel: a.getAttribute('rel') })));
    assert.equal(refs.length, detail.references.filter((r) => /^https?:/i.test(r)).length);
    assert.ok(refs.every((r) => /^https?:/.test(r.href ?? '') && r.rel === 'noopener noreferrer'));
    for (const a of detail.aliases) assert.ok((await page.locator('dt:text-is("Aliases") + dd').textContent())?.includes(a));
    assert.equal(await page.locator('main table tbody tr').count(), Math.min(100, detail.affected.images));
  });

  it('Sensors: type, host, version, perform-SCA flag, last seen', async () => {
    const sensors = await api<List<{ host: string; performScaScan: boolean; type: string }>>('/api/v1/sensors');
    await open('/sensors');
    assert.deepEqual(await column('Host'), sensors.items.map((s) => s.host));
    assert.deepEqual(await column('Perform SCA'), sensors.items.map((s) => (s.performScaScan ? 'yes' : 'no')));
    assert.deepEqual(await column('Type'), sensors.items.map((s) => s.type));
  });

  it('screenshots of every page at 1280 px and at phone width; nothing wider than the screen', async () => {
    const vuln = (await api<List<{ id: string }>>(`/api/v1/vulnerabilities?q=${q('scanType:SCA')}&limit=1`)).items[0]?.id ?? '';
    const pages: [string, string][] = [
      ['images', '/images'],
      ['image-summary', `/images/${img(ids.sca)}/summary`],
      ['image-software', `/images/${img(ids.sca)}/software`],
      ['image-vulnerabilities', `/images/${img(ids.sca)}/vulnerabilities`],
      ['image-layers', `/images/${img(ids.sca)}/layers`],
      ['software', '/software'],
      ['vulnerabilities', '/vulnerabilities'],
      ['vulnerability-detail', `/vulnerabilities/${encodeURIComponent(vuln)}`],
      ['containers', '/containers'],
      ['sensors', '/sensors'],
      ['not-found', '/no/such/page'],
    ];
    for (const size of [DESKTOP, PHONE]) {
      await page.setViewportSize(size);
      for (const [name, path] of pages) {
        await open(path);
        await page.waitForLoadState('networkidle');
        // Long names wrap instead of pushing the page sideways.
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
        assert.ok(overflow <= 1, `${name} at ${size.width}px scrolls sideways by ${overflow}px`);
        await shot(name);
      }
    }
    // Signing out forgets the token.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API token').waitFor();
    assert.deepEqual(await page.evaluate(() => Object.keys(sessionStorage)), []);
    await shot('sign-in');
    await page.setViewportSize(DESKTOP);
  });

  it('no dialog, no page error, no console error (a CSP violation is one)', () => {
    const unexpected = consoleErrors.filter((e) => !/Failed to load resource: the server responded with a status of (400|401)/.test(e));
    assert.deepEqual(unexpected, [], 'no console errors (a CSP violation is one)');
    assert.deepEqual(pageErrors, []);
    assert.deepEqual(dialogs, []);
  });
});
