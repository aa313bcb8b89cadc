/**
 * Compiler tests against real databases: an in-memory SQLite (better-sqlite3) and a real PostgreSQL (started by
 * testing/postgres.ts, or the one TALLY_TEST_PG_URL points at). Every query runs on SQLite, on PostgreSQL with
 * the portable SQL and on PostgreSQL with ILIKE, and all three must return the same, expected, rows.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { Kysely, PostgresDialect, sql, SqliteDialect, type Expression, type ExpressionBuilder, type SqlBool } from 'kysely';
import pg from 'pg';
import { startTestPostgres, type TestPostgres } from '../testing/postgres.js';
import {
  column,
  compileQuery,
  exists,
  matchCondition,
  describeFields,
  resolveQuery,
  searchFilter,
  validateFieldTable,
  type Dialect,
  type EnumCondition,
  type FieldSpec,
  type FieldTable,
} from './compile.js';
import { QuerySyntaxError } from './errors.js';
import { parseQuery } from './parse.js';

interface DB {
  images: {
    id: number;
    repo: string;
    tag: string;
    image_id: string;
    os: string | null;
    created: string;
    layer_count: number;
    scan_types: string;
  };
  packages: { id: number; image_ref: number; name: string; version: string; type: string };
  vulnerabilities: {
    id: number;
    image_ref: number;
    vuln_id: string;
    severity: string;
    scan_type: string;
    cvss: number | null;
  };
  layers: { id: number; image_ref: number; created_by: string };
  image_sensors: { id: number; image_ref: number; type: string };
}

type Engine = 'sqlite' | 'postgres';

/** Image rows with their children, written once and loaded into both databases. */
interface Fixture {
  readonly id: number;
  readonly repo: string;
  readonly tag: string;
  readonly imageId: string;
  readonly os: string | null;
  readonly created: string;
  readonly layerCount: number;
  readonly scanTypes: readonly string[];
  readonly packages: ReadonlyArray<readonly [name: string, version: string, type: string]>;
  readonly vulns: ReadonlyArray<readonly [id: string, severity: string, scanType: string, cvss: number | null]>;
  readonly layers: readonly string[];
  readonly sensors: readonly string[];
}

const FIXTURES: readonly Fixture[] = [
  {
    id: 1, repo: 'library/nginx', tag: '1.25', imageId: 'sha256:aaa1', os: 'debian', created: '2026-01-01T10:00:00.000Z',
    layerCount: 5, scanTypes: ['Static', 'SCA'],
    packages: [['openssl', '3.0.11', 'deb'], ['express', '4.18.2', 'npm'], ['50%_off\\pkg', '1.0', 'npm']],
    vulns: [['CVE-2024-0001', 'high', 'Static', 7.5], ['GHSA-xxxx-yyyy', 'critical', 'SCA', 9.8]],
    layers: ['RUN apt-get install -y openssl', 'COPY package.json /app'], sensors: ['cicd'],
  },
  {
    id: 2, repo: 'library/alpine', tag: '3.19', imageId: 'sha256:aaa2', os: 'alpine', created: '2025-12-31T23:59:59.000Z',
    layerCount: 1, scanTypes: ['Static'],
    packages: [['musl', '1.2.4', 'apk'], ['busybox', '1.36.1', 'apk'], ["o'reilly", '1', 'apk'], ['abc', '1', 'apk']],
    vulns: [['CVE-2024-0002', 'low', 'Static', 3.1]],
    layers: ['ADD alpine-minirootfs.tar.gz /'], sensors: ['registry', 'general'],
  },
  {
    id: 3, repo: 'app/api', tag: 'v2', imageId: 'sha256:bbb3', os: null, created: '2026-02-15T12:00:00.000Z',
    layerCount: 8, scanTypes: ['Static', 'Dynamic', 'SCA'],
    packages: [['lodash', '4.17.20', 'npm'], ['<script>alert(1)</script>', '0.0.1', 'npm'], ['ünïcödé', '1.0', 'pypi'],
      ['日本語', '2', 'pypi'], ['Café', '1', 'pypi']],
    vulns: [['CVE-2021-23337', 'high', 'SCA', 7.2], ['CVE-2024-0003', 'medium', 'Dynamic', null]],
    layers: ['/bin/sh -c #(nop)  CMD ["node"]'], sensors: ['cicd'],
  },
  {
    id: 4, repo: 'app/web', tag: 'latest', imageId: 'sha256:bbb4', os: 'debian', created: '2026-03-01T00:00:00.000Z',
    layerCount: 3, scanTypes: ['Dynamic'],
    packages: [['a_c', '1', 'npm'], ['100%', '1', 'npm'], ['back\\slash', '1', 'npm'], ['semi;colon--', '1', 'npm'],
      ['quote"d', '1', 'npm'], ['star*name', '1', 'npm'], ['/*comment*/', '1', 'npm']],
    vulns: [], layers: [], sensors: ['general'],
  },
  {
    id: 5, repo: 'tools/scanner', tag: '2026.01', imageId: 'sha256:ccc5', os: 'Debian', created: '2026-01-01T00:00:00.000Z',
    layerCount: 2, scanTypes: ['Static'],
    packages: [['openssl', '1.1.1w', 'deb']],
    vulns: [['CVE-2024-0001', 'critical', 'Static', 9.1]],
    layers: ['RUN make'], sensors: [],
  },
  {
    id: 6, repo: "evil/'; drop table images; --", tag: "x' OR '1'='1", imageId: 'sha256:ddd6', os: '%',
    created: '2024-06-01T08:30:00.000Z', layerCount: 0, scanTypes: [], packages: [], vulns: [], layers: [], sensors: [],
  },
  {
    id: 7, repo: 'empty/image', tag: '', imageId: 'sha256:eee7', os: '', created: '2026-01-02T00:00:00.000Z',
    layerCount: 0, scanTypes: [], packages: [], vulns: [], layers: [], sensors: [],
  },
];
const ALL_IDS = FIXTURES.map((f) => f.id);

const SEVERITIES = ['negligible', 'low', 'medium', 'high', 'critical'] as const;
const SCAN_TYPES = ['Static', 'Dynamic', 'SCA'] as const;

/**
 * The field table a server would write. `engine` picks the JSON function for `scanType` (membership in a JSON
 * array column, a custom builder); `dialect` is the table's flag that switches the helpers to ILIKE.
 */
function fieldTable(engine: Engine, dialect: Dialect | undefined): FieldTable<DB, 'images'> {
  const scanTypeInJson = (eb: ExpressionBuilder<DB, 'images'>, condition: EnumCondition): Expression<SqlBool> => {
    const elements =
      engine === 'postgres'
        ? sql`jsonb_array_elements_text(${eb.ref('images.scan_types')}::jsonb)`
        : sql`json_each(${eb.ref('images.scan_types')})`;
    return sql<SqlBool>`exists (select 1 from ${elements} as st where ${matchCondition(sql.ref('st.value'), condition, {
      dialect,
      field: 'scanType',
    })})`;
  };
  return {
    dialect,
    defaultFields: ['repo', 'tag', 'software.name'],
    fields: {
      scanType: { kind: 'enum', values: SCAN_TYPES, nullable: false, build: scanTypeInJson },
      repo: column('images.repo', { kind: 'string', nullable: false }),
      tag: column('images.tag', { kind: 'string', nullable: false }),
      imageId: column('images.image_id', { kind: 'string', nullable: false }),
      os: column('images.os', { kind: 'string' }),
      created: column('images.created', { kind: 'date', nullable: false }),
      layers: column('images.layer_count', { kind: 'number', integer: true, nullable: false }),
      'software.name': exists(
        (eb) => eb.selectFrom('packages as p').whereRef('p.image_ref', '=', 'images.id'),
        (p) => p.ref('p.name'),
        { kind: 'string' },
      ),
      'software.version': exists(
        (eb) => eb.selectFrom('packages as p').whereRef('p.image_ref', '=', 'images.id'),
        (p) => p.ref('p.version'),
        { kind: 'string' },
      ),
      'software.type': exists(
        (eb) => eb.selectFrom('packages as p').whereRef('p.image_ref', '=', 'images.id'),
        (p) => p.ref('p.type'),
        { kind: 'string' },
      ),
      'vulnerabilities.id': exists(
        (eb) => eb.selectFrom('vulnerabilities as v').whereRef('v.image_ref', '=', 'images.id'),
        (v) => v.ref('v.vuln_id'),
        { kind: 'string' },
      ),
      'vulnerabilities.severity': exists(
        (eb) => eb.selectFrom('vulnerabilities as v').whereRef('v.image_ref', '=', 'images.id'),
        (v) => v.ref('v.severity'),
        { kind: 'enum', values: SEVERITIES, ordered: true },
      ),
      'vulnerabilities.scanType': exists(
        (eb) => eb.selectFrom('vulnerabilities as v').whereRef('v.image_ref', '=', 'images.id'),
        (v) => v.ref('v.scan_type'),
        { kind: 'enum', values: SCAN_TYPES },
      ),
      'vulnerabilities.cvss': exists(
        (eb) => eb.selectFrom('vulnerabilities as v').whereRef('v.image_ref', '=', 'images.id'),
        (v) => v.ref('v.cvss'),
        { kind: 'number' },
      ),
      'layer.createdBy': exists(
        (eb) => eb.selectFrom('layers as l').whereRef('l.image_ref', '=', 'images.id'),
        (l) => l.ref('l.created_by'),
        { kind: 'string' },
      ),
      'sensor.type': exists(
        (eb) => eb.selectFrom('image_sensors as s').whereRef('s.image_ref', '=', 'images.id'),
        (s) => s.ref('s.type'),
        { kind: 'enum', values: ['general', 'registry', 'cicd'] },
      ),
    },
  };
}

async function createSchema(db: Kysely<DB>, engine: Engine): Promise<void> {
  await db.schema
    .createTable('images')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('repo', 'text', (c) => c.notNull())
    .addColumn('tag', 'text', (c) => c.notNull())
    .addColumn('image_id', 'text', (c) => c.notNull())
    .addColumn('os', 'text')
    // SQLite stores ISO-8601 text; PostgreSQL a real timestamptz. The same ISO parameters work for both.
    .addColumn('created', engine === 'postgres' ? 'timestamptz' : 'text', (c) => c.notNull())
    .addColumn('layer_count', 'integer', (c) => c.notNull())
    .addColumn('scan_types', 'text', (c) => c.notNull())
    .execute();
  for (const [name, columns] of [
    ['packages', [['name', 'text'], ['version', 'text'], ['type', 'text']]],
    ['vulnerabilities', [['vuln_id', 'text'], ['severity', 'text'], ['scan_type', 'text'], ['cvss', 'double precision']]],
    ['layers', [['created_by', 'text']]],
    ['image_sensors', [['type', 'text']]],
  ] as const) {
    let builder = db.schema
      .createTable(name)
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('image_ref', 'integer', (c) => c.notNull().references('images.id'));
    for (const [col, type] of columns) builder = builder.addColumn(col, type, (c) => (col === 'cvss' ? c : c.notNull()));
    await builder.execute();
  }

  let child = 0;
  for (const f of FIXTURES) {
    await db
      .insertInto('images')
      .values({
        id: f.id,
        repo: f.repo,
        tag: f.tag,
        image_id: f.imageId,
        os: f.os,
        created: f.created,
        layer_count: f.layerCount,
        scan_types: JSON.stringify(f.scanTypes),
      })
      .execute();
    for (const [name, version, type] of f.packages) {
      await db.insertInto('packages').values({ id: ++child, image_ref: f.id, name, version, type }).execute();
    }
    for (const [vulnId, severity, scanType, cvss] of f.vulns) {
      await db
        .insertInto('vulnerabilities')
        .values({ id: ++child, image_ref: f.id, vuln_id: vulnId, severity, scan_type: scanType, cvss })
        .execute();
    }
    for (const createdBy of f.layers) {
      await db.insertInto('layers').values({ id: ++child, image_ref: f.id, created_by: createdBy }).execute();
    }
    for (const type of f.sensors) {
      await db.insertInto('image_sensors').values({ id: ++child, image_ref: f.id, type }).execute();
    }
  }
}

interface Target {
  readonly name: string;
  readonly db: Kysely<DB>;
  readonly table: FieldTable<DB, 'images'>;
}

let postgres: TestPostgres | undefined;
let sqliteDb: Kysely<DB>;
let pgDb: Kysely<DB>;
let targets: Target[] = [];

before(async () => {
  sqliteDb = new Kysely<DB>({ dialect: new SqliteDialect({ database: new Database(':memory:') }) });
  await createSchema(sqliteDb, 'sqlite');
  postgres = await startTestPostgres();
  pgDb = new Kysely<DB>({
    dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: postgres.url, max: 4 }) }),
  });
  await createSchema(pgDb, 'postgres');
  targets = [
    { name: 'sqlite', db: sqliteDb, table: fieldTable('sqlite', 'sqlite') },
    { name: 'postgres (portable SQL)', db: pgDb, table: fieldTable('postgres', undefined) },
    { name: 'postgres (ILIKE)', db: pgDb, table: fieldTable('postgres', 'postgres') },
  ];
});

after(async () => {
  await sqliteDb?.destroy();
  await pgDb?.destroy();
  await postgres?.stop();
});

async function idsOn(target: Target, q: string): Promise<number[]> {
  const ast = parseQuery(q);
  const rows = await target.db
    .selectFrom('images')
    .select('images.id')
    .where((eb) => compileQuery(ast, target.table, eb))
    .orderBy('images.id')
    .execute();
  // pg returns int8 as strings; these columns are int4, but Number() keeps the comparison honest either way.
  return rows.map((r) => Number(r.id));
}

/** Runs `q` on every target and asserts they agree; returns the common result. */
async function search(q: string): Promise<number[]> {
  const [first, ...rest] = await Promise.all(targets.map((t) => idsOn(t, q)));
  assert.ok(first !== undefined);
  rest.forEach((ids, i) => assert.deepEqual(ids, first, `${targets[i + 1]?.name} disagrees with sqlite on ${q}`));
  return first;
}

function compileError(q: string): QuerySyntaxError {
  const table = fieldTable('sqlite', 'sqlite');
  try {
    resolveQuery(parseQuery(q), table);
  } catch (error) {
    if (error instanceof QuerySyntaxError) return error;
    throw error;
  }
  assert.fail(`expected a QuerySyntaxError for ${q}`);
}

describe('compiled queries on SQLite and PostgreSQL return the same, expected rows', () => {
  const cases: Array<[string, number[]]> = [
    ['', ALL_IDS],
    // strings: equality is case-insensitive, * anchors where written
    ['repo:library/nginx', [1]],
    ['repo:LIBRARY/NGINX', [1]],
    ['repo:nginx', []],
    ['repo:library/*', [1, 2]],
    ['repo:*nginx', [1]],
    ['repo:*/a*', [2, 3]],
    ['repo:l*y/*e', [2]],
    ['imageId:sha256:aaa*', [1, 2]],
    ['tag:""', [7]],
    ['Repo:app/web', [4]],
    // free text: contains, in repo, tag and software.name
    ['nginx', [1]],
    ['ssl', [1, 5]],
    ['open*', [1, 5]],
    ['"alert(1)"', [3]],
    ['NGINX OR lodash', [1, 3]],
    // enums, a JSON-array field, ordered enums
    ['scanType:SCA', [1, 3]],
    ['scanType:sca', [1, 3]],
    ['scanType:s*', [1, 2, 3, 5]],
    ['-scanType:SCA', [2, 4, 5, 6, 7]],
    ['scanType!=static', [4, 6, 7]],
    ['vulnerabilities.severity>=high', [1, 3, 5]],
    ['vulnerabilities.severity:critical', [1, 5]],
    ['vulnerabilities.severity>critical', []],
    ['vulnerabilities.severity<medium', [2]],
    ['vulnerabilities.severity:*i*', [1, 3, 5]],
    ['vulnerabilities.scanType:SCA', [1, 3]],
    ['vulnerabilities.scanType:dynamic', [3]],
    ['sensor.type:general', [2, 4]],
    ['sensor.type:cicd OR sensor.type:registry', [1, 2, 3]],
    // numbers
    ['vulnerabilities.cvss>=7', [1, 3, 5]],
    ['vulnerabilities.cvss>9', [1, 5]],
    ['vulnerabilities.cvss<5', [2]],
    ['vulnerabilities.cvss:7.5', [1]],
    ['vulnerabilities.cvss=9.8', [1]],
    ['vulnerabilities.cvss!=7.5', [2, 3, 4, 5, 6, 7]],
    ['vulnerabilities.cvss>=-1', [1, 2, 3, 5]],
    ['layers>=5', [1, 3]],
    ['layers:0', [6, 7]],
    ['layers<2', [2, 6, 7]],
    // dates: a date is the whole day, > means after it
    ['created:2026-01-01', [1, 5]],
    ['created>2026-01-01', [3, 4, 7]],
    ['created>=2026-01-01', [1, 3, 4, 5, 7]],
    ['created<2026', [2, 6]],
    ['created<=2025-12', [2, 6]],
    ['created:2026-02', [3]],
    ['created>2025-12-31T23:59:58Z', [1, 2, 3, 4, 5, 7]],
    ['created:2025-12-31T23:59:59Z', [2]],
    ['created<2026-01-01T01:00:00+02:00', [6]],
    ['created!=2026-01-01', [2, 3, 4, 6, 7]],
    ['created>=2026-01-01T10:00 created<2026-01-01T10:01', [1]],
    // NULL: a missing OS never matches, so its negation does
    ['os:debian', [1, 4, 5]],
    ['-os:debian', [2, 3, 6, 7]],
    ['os!=debian', [2, 3, 6, 7]],
    ['NOT (os:debian OR os:alpine)', [3, 6, 7]],
    ['NOT (os:debian AND repo:app/*)', [1, 2, 3, 5, 6, 7]],
    ['os:*', [1, 2, 4, 5, 6, 7]],
    ['-os:*', [3]],
    ['NOT NOT os:alpine', [2]],
    // related tables: each term is its own EXISTS
    ['software.name:openssl software.version:3*', [1]],
    ['software.name:openssl', [1, 5]],
    ['software.type:npm -software.name:lodash', [1, 4]],
    ['-software.name:*', [6, 7]],
    ['layer.createdBy:*apt-get*', [1]],
    ['layer.createdBy:"*\\"node\\"*"', [3]],
    ['vulnerabilities.id:CVE-2024-0001', [1, 5]],
    ['vulnerabilities.id:cve-2024-*', [1, 2, 3, 5]],
    ['vulnerabilities.id:GHSA*', [1]],
    // boolean structure
    ['(repo:app/* OR repo:tools/*) AND scanType:Static', [3, 5]],
    ['repo:app/* OR repo:tools/* scanType:Static', [3, 4, 5]],
    ['NOT repo:app/* scanType:Static', [1, 2, 5]],
    ['-(software.type:npm OR software.type:apk)', [5, 6, 7]],
    ['vulnerabilities.severity:critical vulnerabilities.scanType:SCA', [1]],
    // SQL and LIKE meta-characters are literal
    ['software.name:"50%_off\\\\pkg"', [1]],
    ['software.name:50%_off\\\\pkg', [1]],
    ['software.name:a_c', [4]],
    ['software.name:*_*', [1, 4]],
    ['software.name:*%*', [1, 4]],
    ['software.name:100%', [4]],
    ['software.name:*\\\\*', [1, 4]],
    ["software.name:\"o'reilly\"", [2]],
    ["software.name:o'reilly", [2]],
    ['software.name:"<script>alert(1)</script>"', [3]],
    ['software.name:*<script>*', [3]],
    ['software.name:"quote\\"d"', [4]],
    ['software.name:star\\*name', [4]],
    ['software.name:star\\**', [4]],
    ['software.name:"semi;colon--"', [4]],
    ['software.name:"/\\*comment\\*/"', [4]],
    ['software.name:/*', [4]],
    ['repo:"evil/\'; drop table images; --"', [6]],
    ['tag:"x\' OR \'1\'=\'1"', [6]],
    ["\"' OR '1'='1\"", [6]],
    ['os:"%"', [6]],
    ['os:\\%', [6]],
    ['"; drop table"', [6]],
    // unicode: exact-case matches everywhere; case folding is ASCII-only on both (C locale), so CAFÉ ≠ Café
    ['software.name:ünïcödé', [3]],
    ['software.name:日本*', [3]],
    ['software.name:café', [3]],
    ['software.name:CAFé', [3]],
    ['software.name:CAFÉ', []],
    ['語', [3]],
  ];
  for (const [q, expected] of cases) {
    it(q === '' ? '(empty query)' : q, async () => assert.deepEqual(await search(q), expected));
  }

  it('leaves the data intact after the hostile queries', async () => {
    for (const t of targets) {
      const row = await t.db.selectFrom('images').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
      assert.equal(Number(row.n), FIXTURES.length, t.name);
    }
  });
});

describe('hostile values never error and match only literally', () => {
  const hostile = [
    "'", '"', ';', '--', '/*', '*/', '%', '_', '\\', "' OR 1=1 --", "'); DROP TABLE images; --", '$1', '?', ':name',
    '<script>alert(1)</script>', '\u202e', 'ünïcödé', '🐳', "x' UNION SELECT id FROM images --", '\\%', '\\_', '%%',
    'E\'\\x41\'', '$$x$$', 'a\tb', 'a\nb', 'abc', 'a_c', '100%', 'back\\slash', '50%_off\\pkg',
  ];
  const quote = (s: string): string => `"${s.replace(/[\\"*]/g, (c) => `\\${c}`)}"`;
  /** The expected rows computed in JS: images with a package of exactly that name (ASCII case-insensitive). */
  const exact = (s: string): number[] =>
    FIXTURES.filter((f) => f.packages.some(([name]) => asciiLower(name) === asciiLower(s))).map((f) => f.id);
  const containing = (s: string): number[] =>
    FIXTURES.filter((f) => [f.repo, f.tag, ...f.packages.map(([n]) => n)].some((v) => asciiLower(v).includes(asciiLower(s))))
      .map((f) => f.id);

  for (const s of hostile) {
    it(JSON.stringify(s), async () => {
      assert.deepEqual(await search(`software.name:${quote(s)}`), exact(s), 'quoted exact');
      assert.deepEqual(await search(`software.name:${quote(s)}*`.replace(/"\*$/, '*"')), prefixOf(s), 'quoted prefix');
      assert.deepEqual(await search(quote(s)), containing(s), 'free text');
      // Unquoted, the same text either parses (and then runs fine on every database) or is a syntax error.
      try {
        await search(`software.name:${s}`);
        await search(s);
      } catch (error) {
        assert.ok(error instanceof QuerySyntaxError, String(error));
      }
    });
  }

  function prefixOf(s: string): number[] {
    return FIXTURES.filter((f) => f.packages.some(([name]) => asciiLower(name).startsWith(asciiLower(s)))).map((f) => f.id);
  }
});

/** What SQLite's lower() and PostgreSQL's lower() under the C locale both do. */
function asciiLower(s: string): string {
  return s.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

describe('random queries agree across databases', () => {
  it('300 generated queries return the same rows on SQLite and PostgreSQL', async () => {
    let seed = 4242;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const pick = <T>(xs: readonly T[]): T => {
      const x = xs[rand(xs.length)];
      if (x === undefined) throw new Error('empty choice');
      return x;
    };
    const stringValues = ['openssl', 'open*', '*ssl', 'a_c', '*%*', '"50%_off\\\\pkg"', 'lib*', '*', '""', "o'reilly", 'x'];
    const atoms = (): string => {
      switch (rand(9)) {
        case 0:
          return `software.name:${pick(stringValues)}`;
        case 1:
          return `repo:${pick(stringValues)}`;
        case 2:
          return `os${pick([':', '!='])}${pick(['debian', 'alpine', '*', '""', '%'])}`;
        case 3:
          return `vulnerabilities.cvss${pick(['>', '>=', '<', '<=', ':', '!='])}${pick(['0', '3.1', '7', '7.5', '9.8', '10'])}`;
        case 4:
          return `vulnerabilities.severity${pick(['>', '>=', '<', '<=', ':', '!='])}${pick(SEVERITIES)}`;
        case 5:
          return `created${pick(['>', '>=', '<', '<=', ':', '!='])}${pick(['2026', '2026-01-01', '2025-12', '2026-01-01T10:00'])}`;
        case 6:
          return `scanType:${pick(['SCA', 'static', 'dyn*'])}`;
        case 7:
          return pick(['nginx', 'lodash', '"alert"', 'ssl', '1']);
        default:
          return `layers${pick(['>', '<', ':'])}${pick(['0', '2', '5'])}`;
      }
    };
    const expr = (depth: number): string => {
      const r = rand(depth > 2 ? 2 : 6);
      if (r < 2) return atoms();
      if (r === 2) return `${pick(['NOT ', '-'])}${rand(2) === 0 ? `(${expr(depth + 1)})` : atoms()}`;
      if (r === 3) return `(${expr(depth + 1)} OR ${expr(depth + 1)})`;
      if (r === 4) return `${expr(depth + 1)} ${expr(depth + 1)}`;
      return `${expr(depth + 1)} AND ${expr(depth + 1)} OR ${expr(depth + 1)}`;
    };
    const seen = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const q = expr(0);
      seen.add(JSON.stringify(await search(q)));
    }
    assert.ok(seen.size > 10, `only ${seen.size} distinct results: the generator is not exercising much`);
  });
});

describe('compile errors are QuerySyntaxErrors at the right column', () => {
  it('names an unknown field and lists the known ones', () => {
    const e = compileError('repo:x colour:red');
    assert.equal(e.column, 8);
    assert.equal(e.reason, "unknown field 'colour'");
    assert.ok(e.hint?.startsWith('known fields: created, imageId, layer.createdBy, layers, os, repo, scanType, '));
    assert.match(e.message, /^unknown field 'colour' at column 8; known fields: /);
  });

  it('rejects a value of the wrong kind at the value', () => {
    const e = compileError('vulnerabilities.cvss>=high');
    assert.equal(e.column, 23);
    assert.equal(e.message, "field 'vulnerabilities.cvss' expects a number, not 'high' at column 23");
    assert.equal(compileError('os:x created>yesterday').column, 14);
    assert.match(compileError('created>yesterday').hint ?? '', /YYYY-MM-DD/);
    assert.equal(compileError('created:2026-02-30').column, 9);
    assert.equal(compileError('layers:2.5').reason, "field 'layers' expects a whole number, not '2.5'");
    assert.equal(compileError('vulnerabilities.cvss:7*').reason, "field 'vulnerabilities.cvss' expects a number; '*' patterns work on text fields");
    assert.equal(compileError('created>2026*').column, 9);
  });

  it('rejects unknown enum values and patterns that match none', () => {
    const e = compileError('scanType:fuzzing');
    assert.equal(e.column, 10);
    assert.equal(e.hint, 'expected one of: Static, Dynamic, SCA');
    assert.equal(compileError('scanType:x*').reason, "'x*' matches no value of field 'scanType'");
    assert.equal(compileError('vulnerabilities.severity>=h*').reason, "a pattern cannot be compared with '>='");
  });

  it('rejects an operator the field does not support, at the operator', () => {
    const e = compileError('repo>=a');
    assert.equal(e.column, 5);
    assert.equal(e.message, "operator '>=' is not supported for field 'repo' at column 5; use ':', '!='");
    assert.equal(compileError('scanType<SCA').column, 9);
  });

  it('looks field names up case-insensitively and reports the canonical name', () => {
    assert.equal(compileError('SCANTYPE:x').reason, "unknown value 'x' for field 'scanType'");
  });

  it('rejects free text when the table has no default fields', () => {
    const table: FieldTable<DB, 'images'> = { fields: { repo: column('images.repo', { kind: 'string' }) }, defaultFields: [] };
    assert.throws(() => resolveQuery(parseQuery('repo:x nginx'), table), { name: 'QuerySyntaxError', column: 8 });
  });

  it('checks column names at compile time', () => {
    // Only the type checker can fail these; at run time they merely build specs that are never executed.
    const specs: Array<FieldSpec<DB, 'images'>> = [
      // @ts-expect-error: no such column on images
      column('images.nope', { kind: 'string' }),
      exists(
        (eb) => eb.selectFrom('packages as p').whereRef('p.image_ref', '=', 'images.id'),
        // @ts-expect-error: no such column on the subquery's tables
        (p) => p.ref('p.nope'),
        { kind: 'string' },
      ),
    ];
    assert.equal(specs.length, 2);
  });

  it('rejects field tables with programming mistakes as TypeError', () => {
    const repo = column<DB, 'images'>('images.repo', { kind: 'string' });
    const bad: Array<FieldTable<DB, 'images'>> = [
      { fields: { 'bad name': repo }, defaultFields: [] },
      { fields: { repo, REPO: repo }, defaultFields: [] },
      { fields: { repo }, defaultFields: ['tag'] },
      { fields: { repo: column('images.repo', { kind: 'string', ops: ['lt'] }) }, defaultFields: [] },
      { fields: { x: column('images.repo', { kind: 'enum', values: ['a', 'A'] }) }, defaultFields: [] },
      { fields: { x: column('images.layer_count', { kind: 'number' }) }, defaultFields: ['x'] },
    ];
    for (const table of bad) assert.throws(() => validateFieldTable(table), TypeError);
  });
});

describe('generated SQL is parameterised', () => {
  const compileOn = (db: Kysely<DB>, table: FieldTable<DB, 'images'>, q: string): { sql: string; parameters: readonly unknown[] } => {
    const ast = parseQuery(q);
    const c = db.selectFrom('images').select('images.id').where((eb) => compileQuery(ast, table, eb)).compile();
    return { sql: c.sql, parameters: c.parameters };
  };

  it('shows the SQL and parameters for a few queries', () => {
    const q1 = 'software.name:openssl* vulnerabilities.cvss>=7 -os:alpine';
    const sqlite = compileOn(sqliteDb, fieldTable('sqlite', 'sqlite'), q1);
    assert.equal(
      sqlite.sql,
      'select "images"."id" from "images" where (' +
        'exists (select 1 as "one" from "packages" as "p" where "p"."image_ref" = "images"."id" ' +
        // the literal prefix as an index range, then the pattern
        'and (lower("p"."name") >= lower(?) AND lower("p"."name") < (lower(?) || char(1114111)) ' +
        `AND (lower("p"."name") LIKE lower(?) ESCAPE '\\'))) ` +
        'and exists (select 1 as "one" from "vulnerabilities" as "v" where "v"."image_ref" = "images"."id" ' +
        'and ("v"."cvss" >= ?)) ' +
        'and not coalesce((lower("images"."os") = lower(?)), false))',
    );
    assert.deepEqual(sqlite.parameters, ['openssl', 'openssl', 'openssl%', 7, 'alpine']);

    const postgresIlike = compileOn(pgDb, fieldTable('postgres', 'postgres'), q1);
    assert.equal(
      postgresIlike.sql,
      'select "images"."id" from "images" where (' +
        'exists (select 1 as "one" from "packages" as "p" where "p"."image_ref" = "images"."id" ' +
        `and ("p"."name" ILIKE $1 ESCAPE '\\')) ` +
        'and exists (select 1 as "one" from "vulnerabilities" as "v" where "v"."image_ref" = "images"."id" ' +
        'and ("v"."cvss" >= $2)) ' +
        'and not coalesce((lower("images"."os") = lower($3)), false))',
    );
    assert.deepEqual(postgresIlike.parameters, ['openssl%', 7, 'alpine']);

    const q2 = 'created:2026-01-01 vulnerabilities.severity>=high (nginx OR scanType:SCA)';
    const pgPortable = compileOn(pgDb, fieldTable('postgres', undefined), q2);
    assert.equal(
      pgPortable.sql,
      'select "images"."id" from "images" where (' +
        '("images"."created" >= $1 AND "images"."created" < $2) ' +
        'and exists (select 1 as "one" from "vulnerabilities" as "v" where "v"."image_ref" = "images"."id" ' +
        'and ("v"."severity" IN ($3, $4))) ' +
        'and (' +
        `(lower("images"."repo") LIKE lower($5) ESCAPE '\\') or (lower("images"."tag") LIKE lower($6) ESCAPE '\\') ` +
        'or exists (select 1 as "one" from "packages" as "p" where "p"."image_ref" = "images"."id" ' +
        `and (lower("p"."name") LIKE lower($7) ESCAPE '\\')) ` +
        `or exists (select 1 from jsonb_array_elements_text("images"."scan_types"::jsonb) as st where ("st"."value" = $8))))`,
    );
    assert.deepEqual(pgPortable.parameters, [
      '2026-01-01T00:00:00.000Z',
      '2026-01-02T00:00:00.000Z',
      'high',
      'critical',
      '%nginx%',
      '%nginx%',
      '%nginx%',
      'SCA',
    ]);
  });

  it('never puts user text into the SQL string', () => {
    const marker = "zz'; DROP TABLE images; --";
    for (const t of targets) {
      for (const q of [
        `repo:"${marker}"`,
        `"${marker}"`,
        `software.name:"${marker}*"`,
        `layer.createdBy:"*${marker}"`,
        `repo:"${marker}" OR -tag:"${marker}"`,
      ]) {
        const c = compileOn(t.db, t.table, q);
        assert.ok(!c.sql.includes('zz') && !c.sql.includes('DROP'), `${t.name}: ${c.sql}`);
        assert.ok(c.parameters.some((p) => typeof p === 'string' && p.includes(marker.slice(0, 3))), t.name);
      }
    }
  });

  it('searchFilter validates q up front and filters nothing for an absent one', async () => {
    const table = fieldTable('sqlite', 'sqlite');
    assert.throws(() => searchFilter('repo:(', table), { name: 'QuerySyntaxError', column: 6 });
    assert.throws(() => searchFilter('x'.repeat(20), table, { maxBytes: 10 }), { name: 'QuerySyntaxError', column: 11 });
    const run = async (q: string | undefined): Promise<number> =>
      (await sqliteDb.selectFrom('images').select('id').where(searchFilter(q, table)).execute()).length;
    assert.equal(await run(undefined), FIXTURES.length);
    assert.equal(await run('  '), FIXTURES.length);
    assert.equal(await run('scanType:SCA'), 2);
  });

  it('describes the fields for API documentation', () => {
    const fields = describeFields(fieldTable('sqlite', 'sqlite'));
    assert.deepEqual(fields.find((f) => f.name === 'vulnerabilities.severity'), {
      name: 'vulnerabilities.severity',
      kind: 'enum',
      operators: [':', '!=', '<', '<=', '>', '>='],
      values: SEVERITIES,
      freeText: false,
    });
    assert.deepEqual(fields.filter((f) => f.freeText).map((f) => f.name), ['repo', 'software.name', 'tag']);
  });

  it('resolves once and builds many times (validate before building the query)', async () => {
    const table = fieldTable('sqlite', 'sqlite');
    const resolved = resolveQuery(parseQuery('os:debian'), table);
    assert.ok(resolved.type === 'leaf');
    assert.deepEqual(resolved.condition, { kind: 'string', match: 'exact', value: 'debian' });
    const rows = await sqliteDb.selectFrom('images').select('id').where((eb) => resolved.build(eb)).execute();
    assert.equal(rows.length, 3);
  });
});
