/**
 * The `q` field tables of the list endpoints: which fields each list searches and the SQL behind each (the
 * language itself is query/: parse → resolve → these builders → kysely).
 *
 * Image fields over related rows compile to `images.pk IN (SELECT image_pk FROM … WHERE <condition>)`, not to a
 * correlated EXISTS: SQLite evaluates a correlated subquery once per image, while an uncorrelated IN list is
 * computed once from an index on the searched column (migrations.ts) and probed per image. Several fields read
 * columns the store keeps per image for this purpose (severity counts, CVSS extremes, scans.vulns, package
 * types), so `vulnerabilities.severity:CRITICAL` over 10,000 images never touches the detections table.
 */
import { expressionBuilder, sql, type Expression, type ExpressionBuilder, type SelectQueryBuilder, type SqlBool } from 'kysely';
import { PACKAGE_TYPES } from '@tally/core';
import { column, matchCondition, type BuildContext, type EnumCondition, type FieldSpec, type FieldTable, type StringCondition, type Dialect } from '../query/index.js';
import type { Tables } from '../store/schema.js';
import { imagesHoldingWhere } from '../store/package-holders.js';
import { imagesWithVulnWhere } from '../store/vuln-holders.js';

export const SCAN_TYPE_VALUES = ['Static', 'Dynamic', 'SCA'] as const;
/** Ascending, so `severity>=HIGH` means HIGH and CRITICAL. */
export const SEVERITY_VALUES = ['UNKNOWN', 'NEGLIGIBLE', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL'] as const;
export const STATUS_VALUES = ['fixed', 'affected', 'will_not_fix', 'fix_deferred', 'end_of_life', 'under_investigation'] as const;
export const SENSOR_TYPE_VALUES = ['general', 'registry', 'cicd'] as const;
const BOOL_VALUES = ['true', 'false'] as const;

const SEVERITY_COLUMN = {
  CRITICAL: 'images.vulns_critical',
  HIGH: 'images.vulns_high',
  MEDIUM: 'images.vulns_medium',
  LOW: 'images.vulns_low',
  NEGLIGIBLE: 'images.vulns_negligible',
  UNKNOWN: 'images.vulns_unknown',
} as const;

/** `true`/`false` searched on a 0/1 column (or a boolean SQL expression). */
function boolField<TB extends keyof Tables>(target: (eb: ExpressionBuilder<Tables, TB>) => Expression<SqlBool>, description: string): FieldSpec<Tables, TB> {
  return {
    kind: 'enum',
    values: BOOL_VALUES,
    nullable: false,
    description,
    build: (eb, c: EnumCondition) => {
      if (c.values.length === 2) return sql<SqlBool>`(1 = 1)`;
      return c.values[0] === 'true' ? target(eb) : eb.not(target(eb));
    },
  };
}

type ImagesEb = ExpressionBuilder<Tables, 'images'>;

/** A string field of the images list backed by a related table (see the header). */
function imageString(description: string, set: (eb: ImagesEb, c: StringCondition, ctx: BuildContext) => Expression<SqlBool>): FieldSpec<Tables, 'images'> {
  return { kind: 'string', nullable: false, description, build: set };
}

function imageFieldTable(dialect: Dialect): FieldTable<Tables, 'images'> {
  // SQLite (no statistics) drives `images.pk IN (…)` by rowid lookups of every listed image, then reads and sorts
  // all the matches for one page: 10,000 rows for `scanType:SCA`. The unary plus (a no-op on the value) rules that
  // plan out, so SQLite walks the sort's index (images_last_seen by default) probing the list and stops after a
  // page; a narrow match costs one scan of that index. PostgreSQL plans the semi-join from statistics: left as is.
  const pk = dialect === 'sqlite' ? sql<number>`+${sql.ref('images.pk')}` : sql.ref<number>('images.pk');
  const pkIn = <TB extends keyof Tables>(eb: ImagesEb, rows: SelectQueryBuilder<Tables, TB, { image_pk: number }>): Expression<SqlBool> => eb(pk, 'in', rows);
  const inRefs = (col: 'repo' | 'tag' | 'digest') => (eb: ImagesEb, c: StringCondition, ctx: BuildContext) =>
    pkIn(eb, eb.selectFrom('image_refs').select('image_refs.image_pk').where((s) => matchCondition(s.ref(`image_refs.${col}`), c, ctx)));
  const inPackages = (col: 'name' | 'version' | 'purl') => (eb: ImagesEb, c: StringCondition, ctx: BuildContext) =>
    eb(
      pk,
      'in',
      imagesHoldingWhere(expressionBuilder<Tables, never>(), dialect, (s) => matchCondition(s.ref(`packages.${col}`), c, ctx)),
    );
  return {
    dialect,
    defaultFields: ['repo', 'tag', 'imageId'],
    fields: {
      scanType: {
        kind: 'enum',
        values: SCAN_TYPE_VALUES,
        nullable: false,
        description: 'a scan type whose results the image holds (Static, Dynamic, SCA)',
        build: (eb, c) =>
          pkIn(eb, eb.selectFrom('scans').select('scans.image_pk').where('scans.active', '=', 1).where('scans.scan_type', 'in', [...c.values])),
      },
      repo: imageString('repository of any repo tag or digest', inRefs('repo')),
      tag: imageString('tag of any repo tag', inRefs('tag')),
      digest: imageString('digest of any repo digest', inRefs('digest')),
      imageId: column<Tables, 'images'>('images.image_id', { kind: 'string', nullable: false, description: 'image id (config digest)' }),
      manifestDigest: column<Tables, 'images'>('images.manifest_digest', { kind: 'string', description: 'manifest digest' }),
      os: {
        kind: 'string',
        description: 'OS family or pretty name (debian, "Debian GNU/Linux 12 (bookworm)")',
        build: (eb, c, ctx) => eb.or([matchCondition(eb.ref('images.os_family'), c, ctx), matchCondition(eb.ref('images.os_pretty'), c, ctx)]),
      },
      'os.family': column<Tables, 'images'>('images.os_family', { kind: 'string', description: 'OS family (debian, alpine, rhel…)' }),
      'os.version': column<Tables, 'images'>('images.os_version', { kind: 'string', description: 'OS version (12, 3.20…)' }),
      architecture: column<Tables, 'images'>('images.architecture', { kind: 'string', description: 'platform architecture' }),
      created: column<Tables, 'images'>('images.created_ts', { kind: 'date', description: 'image creation time' }),
      firstSeen: column<Tables, 'images'>('images.first_seen', { kind: 'date', nullable: false, description: 'first upload' }),
      lastSeen: column<Tables, 'images'>('images.last_seen', { kind: 'date', nullable: false, description: 'last upload' }),
      layers: column<Tables, 'images'>('images.layer_count', { kind: 'number', integer: true, nullable: false, description: 'number of layers' }),
      packages: column<Tables, 'images'>('images.packages_total', { kind: 'number', integer: true, nullable: false, description: 'number of packages' }),
      'software.name': imageString('name of any installed package', inPackages('name')),
      'software.version': imageString('version of any installed package', inPackages('version')),
      'software.purl': imageString('purl of any installed package', inPackages('purl')),
      'software.type': {
        kind: 'enum',
        values: PACKAGE_TYPES,
        nullable: false,
        description: 'package type present (deb, npm, maven…)',
        build: (eb, c) => pkIn(eb, eb.selectFrom('image_package_types').select('image_package_types.image_pk').where('image_package_types.type', 'in', [...c.values])),
      },
      'vulnerabilities.id': imageString('id of any detected vulnerability (CVE-…, GHSA-…)', (eb, c, ctx) =>
        pkIn(eb, imagesWithVulnWhere(expressionBuilder<Tables, never>(), dialect, (id) => matchCondition(id, c, ctx))),
      ),
      'vulnerabilities.severity': {
        kind: 'enum',
        values: SEVERITY_VALUES,
        ordered: true,
        nullable: false,
        description: 'severity of any detection (ordered: vulnerabilities.severity>=HIGH)',
        build: (eb, c) => eb.or(c.values.map((v) => eb(SEVERITY_COLUMN[v as keyof typeof SEVERITY_COLUMN], '>', 0))),
      },
      'vulnerabilities.scanType': {
        kind: 'enum',
        values: SCAN_TYPE_VALUES,
        nullable: false,
        description: 'scan type of any detection',
        build: (eb, c) =>
          pkIn(eb, eb.selectFrom('scans').select('scans.image_pk').where('scans.vulns', '>', 0).where('scans.scan_type', 'in', [...c.values])),
      },
      'vulnerabilities.cvss': {
        kind: 'number',
        description: 'CVSS base score of any detection (vulnerabilities.cvss>=7)',
        build: (eb, c) => {
          // "Some detection scores ≥ v" is "the highest score ≥ v"; "some < v" is "the lowest < v".
          switch (c.op) {
            case 'gt':
              return eb('images.cvss_max', '>', c.value);
            case 'ge':
              return eb('images.cvss_max', '>=', c.value);
            case 'lt':
              return eb('images.cvss_min', '<', c.value);
            case 'le':
              return eb('images.cvss_min', '<=', c.value);
            case 'eq':
              return pkIn(eb, eb.selectFrom('detections').select('detections.image_pk').where('detections.cvss_score', '=', c.value));
          }
        },
      },
      'vulnerabilities.total': column<Tables, 'images'>('images.vulns_total', { kind: 'number', integer: true, nullable: false, description: 'number of detections' }),
      'layer.createdBy': imageString('created_by of any layer', (eb, c, ctx) =>
        pkIn(eb, eb.selectFrom('layers').select('layers.image_pk').where((s) => matchCondition(s.ref('layers.created_by'), c, ctx))),
      ),
      'layer.diffId': imageString('diffId of any layer', (eb, c, ctx) =>
        pkIn(eb, eb.selectFrom('layers').select('layers.image_pk').where((s) => matchCondition(s.ref('layers.diff_id'), c, ctx))),
      ),
      'sensor.type': {
        kind: 'enum',
        values: SENSOR_TYPE_VALUES,
        nullable: false,
        description: 'type of a sensor that uploaded the image',
        build: (eb, c) =>
          pkIn(
            eb,
            eb
              .selectFrom('image_sensors')
              .innerJoin('sensors', 'sensors.pk', 'image_sensors.sensor_pk')
              .select('image_sensors.image_pk')
              .where('sensors.type', 'in', [...c.values]),
          ),
      },
      'sensor.host': imageString('host of a sensor that uploaded the image', (eb, c, ctx) =>
        pkIn(
          eb,
          eb
            .selectFrom('image_sensors')
            .innerJoin('sensors', 'sensors.pk', 'image_sensors.sensor_pk')
            .select('image_sensors.image_pk')
            .where((s) => matchCondition(s.ref('sensors.host'), c, ctx)),
        ),
      ),
    },
  };
}

/** A location is searched as a substring pattern of the JSON list of paths. */
function locationField(dialect: Dialect): FieldSpec<Tables, 'image_packages' | 'packages'> {
  return {
    kind: 'string',
    nullable: false,
    description: 'a location (path) of the package; matched as a substring, `*` allowed',
    build: (eb, c, ctx) => {
      const likeEscape = (s: string): string => s.replace(/[\\%_]/g, (m) => `\\${m}`);
      const pattern = c.match === 'exact' ? `%${likeEscape(c.value)}%` : `%${c.pattern}%`;
      return matchCondition(eb.ref('image_packages.locations'), { kind: 'string', match: 'like', pattern, parts: [] }, { ...ctx, dialect });
    },
  };
}

type SoftwareTB = 'image_packages' | 'packages';

function softwareFieldTable(dialect: Dialect): FieldTable<Tables, SoftwareTB> {
  return {
    dialect,
    defaultFields: ['name', 'purl'],
    fields: {
      name: column<Tables, SoftwareTB>('packages.name', { kind: 'string', nullable: false, description: 'package name' }),
      version: column<Tables, SoftwareTB>('packages.version', { kind: 'string', nullable: false, description: 'installed version' }),
      type: column<Tables, SoftwareTB>('packages.type', { kind: 'enum', values: PACKAGE_TYPES, nullable: false, description: 'purl type' }),
      purl: column<Tables, SoftwareTB>('packages.purl', { kind: 'string', nullable: false, description: 'package URL' }),
      class: column<Tables, SoftwareTB>('packages.class', { kind: 'enum', values: ['os', 'lang'], nullable: false, description: 'os or lang (Non-OS)' }),
      scanType: column<Tables, SoftwareTB>('image_packages.scan_type', { kind: 'enum', values: SCAN_TYPE_VALUES, nullable: false, description: 'scan that found it' }),
      layer: column<Tables, SoftwareTB>('image_packages.layer_index', { kind: 'number', integer: true, nullable: false, description: 'index of the introducing layer' }),
      location: locationField(dialect),
      evidence: column<Tables, SoftwareTB>('image_packages.evidence', { kind: 'enum', values: ['installed', 'declared', 'binary'], nullable: false, description: 'evidence' }),
      license: column<Tables, SoftwareTB>('packages.licenses', { kind: 'string', description: 'license list (JSON text; use *MIT*)' }),
      'source.name': column<Tables, SoftwareTB>('packages.source_name', { kind: 'string', description: 'source package name' }),
    },
  };
}

/** Software across images: grouped dictionary rows; per-image facts are searched through the image's rows. */
function fleetSoftwareFieldTable(dialect: Dialect): FieldTable<Tables, 'packages'> {
  const viaRows =
    (description: string, cond: (eb: ExpressionBuilder<Tables, 'image_packages' | 'images'>, c: StringCondition | EnumCondition, ctx: BuildContext) => Expression<SqlBool>) =>
    (kind: 'string' | 'enum', values?: readonly string[]): FieldSpec<Tables, 'packages'> => {
      const build = (eb: ExpressionBuilder<Tables, 'packages'>, c: StringCondition | EnumCondition, ctx: BuildContext): Expression<SqlBool> =>
        eb(
          'packages.pk',
          'in',
          eb
            .selectFrom('image_packages')
            .innerJoin('images', 'images.pk', 'image_packages.image_pk')
            .select('image_packages.package_pk')
            .where((s) => cond(s, c, ctx)),
        );
      return kind === 'enum' ? { kind, values: values ?? [], nullable: false, description, build } : { kind, nullable: false, description, build };
    };
  return {
    dialect,
    defaultFields: ['name', 'purl'],
    fields: {
      name: column<Tables, 'packages'>('packages.name', { kind: 'string', nullable: false, description: 'package name' }),
      version: column<Tables, 'packages'>('packages.version', { kind: 'string', nullable: false, description: 'version' }),
      type: column<Tables, 'packages'>('packages.type', { kind: 'enum', values: PACKAGE_TYPES, nullable: false, description: 'purl type' }),
      purl: column<Tables, 'packages'>('packages.purl', { kind: 'string', nullable: false, description: 'package URL' }),
      class: column<Tables, 'packages'>('packages.class', { kind: 'enum', values: ['os', 'lang'], nullable: false, description: 'os or lang' }),
      scanType: viaRows('found by this scan type in some image', (s, c) => s('image_packages.scan_type', 'in', [...(c as EnumCondition).values]))('enum', SCAN_TYPE_VALUES),
      imageId: viaRows('installed in this image', (s, c, ctx) => matchCondition(s.ref('images.image_id'), c, ctx))('string'),
    },
  };
}

type VulnTB = 'detections' | 'packages';

function vulnerabilityFieldTable(dialect: Dialect, fleet: boolean): FieldTable<Tables, VulnTB> {
  const fields: Record<string, FieldSpec<Tables, VulnTB>> = {
    id:
      fleet && dialect === 'sqlite'
        ? {
            // Across the fleet, SQLite has no index led by the id: the images having a matching one narrow the rows.
            kind: 'string',
            nullable: false,
            description: 'vulnerability id',
            build: (eb, c, ctx) =>
              eb.and([
                matchCondition(eb.ref('detections.vuln_id'), c, ctx),
                eb('detections.image_pk', 'in', imagesWithVulnWhere(expressionBuilder<Tables, never>(), dialect, (id) => matchCondition(id, c, ctx))),
              ]),
          }
        : column<Tables, VulnTB>('detections.vuln_id', { kind: 'string', nullable: false, description: 'vulnerability id' }),
    severity: column<Tables, VulnTB>('detections.severity', { kind: 'enum', values: SEVERITY_VALUES, ordered: true, nullable: false, description: 'severity (ordered)' }),
    scanType: column<Tables, VulnTB>('detections.scan_type', { kind: 'enum', values: SCAN_TYPE_VALUES, nullable: false, description: 'scan type of the package' }),
    class: column<Tables, VulnTB>('detections.class', { kind: 'enum', values: ['os', 'lang'], nullable: false, description: 'os or lang package' }),
    status: column<Tables, VulnTB>('detections.status', { kind: 'enum', values: STATUS_VALUES, nullable: false, description: 'fix status' }),
    fixed: boolField<VulnTB>((eb) => eb('detections.has_fix', '=', 1), 'a fixed version exists'),
    kev: boolField<VulnTB>((eb) => eb('detections.kev', '=', 1), 'in CISA KEV'),
    epss: column<Tables, VulnTB>('detections.epss', { kind: 'number', description: 'EPSS probability (0–1)' }),
    cvss: column<Tables, VulnTB>('detections.cvss_score', { kind: 'number', description: 'highest CVSS base score' }),
    layer: column<Tables, VulnTB>('detections.layer_index', { kind: 'number', integer: true, nullable: false, description: 'introducing layer index' }),
    'software.name': column<Tables, VulnTB>('packages.name', { kind: 'string', nullable: false, description: 'package name' }),
    'software.version': column<Tables, VulnTB>('packages.version', { kind: 'string', nullable: false, description: 'package version' }),
    'software.type': column<Tables, VulnTB>('packages.type', { kind: 'enum', values: PACKAGE_TYPES, nullable: false, description: 'package type' }),
  };
  if (fleet) {
    fields['imageId'] = {
      kind: 'string',
      nullable: false,
      description: 'detected in this image',
      build: (eb, c, ctx) => eb('detections.image_pk', 'in', eb.selectFrom('images').select('images.pk').where((s) => matchCondition(s.ref('images.image_id'), c, ctx))),
    };
    fields['repo'] = {
      kind: 'string',
      nullable: false,
      description: 'detected in an image of this repository',
      build: (eb, c, ctx) => eb('detections.image_pk', 'in', eb.selectFrom('image_refs').select('image_refs.image_pk').where((s) => matchCondition(s.ref('image_refs.repo'), c, ctx))),
    };
  }
  return { dialect, defaultFields: ['id', 'software.name'], fields };
}

function containerFieldTable(dialect: Dialect): FieldTable<Tables, 'containers'> {
  return {
    dialect,
    defaultFields: ['name', 'image'],
    fields: {
      name: column<Tables, 'containers'>('containers.name', { kind: 'string', nullable: false, description: 'container name' }),
      id: column<Tables, 'containers'>('containers.container_id', { kind: 'string', nullable: false, description: "runtime's container id" }),
      state: column<Tables, 'containers'>('containers.state', { kind: 'string', nullable: false, description: 'running, exited…' }),
      host: column<Tables, 'containers'>('containers.host', { kind: 'string', nullable: false, description: 'host' }),
      image: column<Tables, 'containers'>('containers.image_ref', { kind: 'string', nullable: false, description: 'image reference' }),
      imageId: column<Tables, 'containers'>('containers.image_id', { kind: 'string', nullable: false, description: 'image id' }),
      removed: boolField<'containers'>((eb) => eb('containers.removed_at', 'is not', null), 'removed since'),
      lastSeen: column<Tables, 'containers'>('containers.last_seen', { kind: 'date', nullable: false, description: 'last reported' }),
    },
  };
}

function sensorFieldTable(dialect: Dialect): FieldTable<Tables, 'sensors'> {
  return {
    dialect,
    defaultFields: ['host'],
    fields: {
      type: column<Tables, 'sensors'>('sensors.type', { kind: 'enum', values: SENSOR_TYPE_VALUES, nullable: false, description: 'sensor type' }),
      host: column<Tables, 'sensors'>('sensors.host', { kind: 'string', nullable: false, description: 'host' }),
      version: column<Tables, 'sensors'>('sensors.version', { kind: 'string', nullable: false, description: 'tool version' }),
      performScaScan: boolField<'sensors'>((eb) => eb('sensors.perform_sca', '=', 1), 'launched with --perform-sca-scan'),
      lastSeen: column<Tables, 'sensors'>('sensors.last_seen', { kind: 'date', nullable: false, description: 'last contact' }),
    },
  };
}

function tokenFieldTable(dialect: Dialect): FieldTable<Tables, 'tokens'> {
  return {
    dialect,
    defaultFields: ['name'],
    fields: {
      role: column<Tables, 'tokens'>('tokens.role', { kind: 'enum', values: ['sensor', 'viewer', 'admin'], nullable: false, description: 'role' }),
      name: column<Tables, 'tokens'>('tokens.name', { kind: 'string', nullable: false, description: 'description' }),
      revoked: boolField<'tokens'>((eb) => eb('tokens.revoked_at', 'is not', null), 'revoked'),
    },
  };
}

export interface FieldTables {
  readonly images: FieldTable<Tables, 'images'>;
  readonly software: FieldTable<Tables, SoftwareTB>;
  readonly fleetSoftware: FieldTable<Tables, 'packages'>;
  readonly vulnerabilities: FieldTable<Tables, VulnTB>;
  readonly fleetVulnerabilities: FieldTable<Tables, VulnTB>;
  readonly containers: FieldTable<Tables, 'containers'>;
  readonly sensors: FieldTable<Tables, 'sensors'>;
  readonly tokens: FieldTable<Tables, 'tokens'>;
}

export function fieldTables(dialect: Dialect): FieldTables {
  return {
    images: imageFieldTable(dialect),
    software: softwareFieldTable(dialect),
    fleetSoftware: fleetSoftwareFieldTable(dialect),
    vulnerabilities: vulnerabilityFieldTable(dialect, false),
    fleetVulnerabilities: vulnerabilityFieldTable(dialect, true),
    containers: containerFieldTable(dialect),
    sensors: sensorFieldTable(dialect),
    tokens: tokenFieldTable(dialect),
  };
}
