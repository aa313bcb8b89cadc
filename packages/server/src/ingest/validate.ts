/**
 * Upload validation against docs/report.schema.json, piece by piece (see @tally/core/json-stream): the report without
 * its big arrays is validated against the whole schema (required members, no unknown members, the image, sensor,
 * summary…), and each streamed element against its own definition. Together that is exactly the whole-document
 * validation, at the memory cost of one element.
 *
 * `containers` is the backend's addition for General sensors (see docs/server.md): it is validated here with its
 * own schema and taken out before the report schema sees the document, so the report schema's
 * `additionalProperties: false` still holds for everything else.
 */
import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { Type, type Static } from 'typebox';

/** docs/report.schema.json, read from the repository (src/ingest and dist/ingest are at the same depth). */
const REPORT_SCHEMA_URL = new URL('../../../../docs/report.schema.json', import.meta.url);

export const ContainerSchema = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 256, description: "The runtime's container id" }),
    name: Type.String({ maxLength: 1024 }),
    imageId: Type.String({ minLength: 1, maxLength: 256, description: 'Image id (config digest) the container runs' }),
    image: Type.String({ maxLength: 4096, description: 'The image reference as the runtime shows it' }),
    state: Type.String({ maxLength: 64, description: 'created, running, paused, restarting, removing, exited, dead' }),
    created: Type.Union([Type.String({ maxLength: 64 }), Type.Null()]),
    ports: Type.Array(
      Type.Object(
        {
          ip: Type.Optional(Type.String({ maxLength: 64 })),
          privatePort: Type.Integer({ minimum: 0, maximum: 65535 }),
          publicPort: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
          type: Type.String({ maxLength: 16 }),
        },
        { additionalProperties: false },
      ),
      { maxItems: 4096 },
    ),
  },
  { additionalProperties: false },
);
export type ContainerInput = Static<typeof ContainerSchema>;

export interface ReportValidators {
  /** The report with every streamed array emptied and `containers` removed. */
  readonly skeleton: ValidateFunction;
  readonly package: ValidateFunction;
  readonly finding: ValidateFunction;
  readonly issue: ValidateFunction;
  readonly container: ValidateFunction;
}

let cached: ReportValidators | null = null;

export function reportValidators(): ReportValidators {
  if (cached !== null) return cached;
  const schema = JSON.parse(readFileSync(REPORT_SCHEMA_URL, 'utf8')) as { $id?: string };
  const id = schema.$id ?? 'tally-report';
  const ajv = new Ajv({ allErrors: false, strict: true });
  // ajv-formats is CommonJS with a default export; under NodeNext the callable is on `.default` at runtime.
  const addFormats = (addFormatsModule as unknown as { default: (a: Ajv) => Ajv }).default;
  addFormats(ajv);
  ajv.addSchema(schema, id);
  const get = (ref: string): ValidateFunction => {
    const v = ajv.getSchema(`${id}${ref}`);
    if (v === undefined) throw new Error(`docs/report.schema.json has no ${ref}`);
    return v;
  };
  cached = {
    skeleton: get(''),
    package: get('#/definitions/package'),
    finding: get('#/definitions/finding'),
    issue: get('#/properties/issues/items'),
    container: ajv.compile(ContainerSchema),
  };
  return cached;
}

/** One line per error, JSON-pointer path first, capped so a hostile report cannot make the response huge. */
export function describeErrors(prefix: string, errors: readonly ErrorObject[] | null | undefined, max = 5): string[] {
  return (errors ?? []).slice(0, max).map((e) => {
    const extra = e.keyword === 'additionalProperties' ? ` (${JSON.stringify((e.params as { additionalProperty?: unknown }).additionalProperty)})` : '';
    return `${prefix}${e.instancePath} ${e.message ?? 'is invalid'}${extra}`;
  });
}
