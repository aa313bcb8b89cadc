/** Server settings (key/value rows): the SCA switch and the identity of the vulnerability database last evaluated. */
import type { Kysely } from 'kysely';
import type { Tables } from './schema.js';

export const SETTING_SCA = 'sca.enabled';
/** JSON of the vulnerability database identity (see evaluate/vulndb.ts) that the stored detections come from. */
export const SETTING_EVALUATED_DB = 'vulndb.evaluated';

export async function getSetting(db: Kysely<Tables>, key: string): Promise<string | null> {
  const r = await db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst();
  return r?.value ?? null;
}

export async function setSetting(db: Kysely<Tables>, key: string, value: string): Promise<void> {
  const now = new Date().toISOString();
  await db
    .insertInto('settings')
    .values({ key, value, updated_at: now })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value, updated_at: now }))
    .execute();
}

export interface ScaSetting {
  readonly enabled: boolean;
  readonly updatedAt: string | null;
}

/** SCA is on unless an admin turned it off. */
export async function getSca(db: Kysely<Tables>): Promise<ScaSetting> {
  const r = await db.selectFrom('settings').select(['value', 'updated_at']).where('key', '=', SETTING_SCA).executeTakeFirst();
  return { enabled: r === undefined ? true : r.value === 'true', updatedAt: r?.updated_at ?? null };
}

export async function setSca(db: Kysely<Tables>, enabled: boolean): Promise<ScaSetting> {
  await setSetting(db, SETTING_SCA, enabled ? 'true' : 'false');
  return getSca(db);
}
