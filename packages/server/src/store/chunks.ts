/**
 * Batch shapes that repeat. Kysely turns every batch into SQL text whose shape depends on the row count, and the
 * SQLite connection caches prepared statements by text (database.ts), so batches are cut into a few fixed sizes:
 * a 500-row insert becomes 256 + 64×3 + 16×3 + 4 rows, four statements each prepared once per process instead of
 * one new statement per upload. PostgreSQL does not care either way.
 */
const SIZES = [256, 64, 16, 4, 1] as const;

/** Consecutive slices of `items` whose lengths are all in SIZES (largest first). */
export function* fixedChunks<T>(items: readonly T[], max = 256): Generator<T[]> {
  let i = 0;
  while (i < items.length) {
    const left = items.length - i;
    const size = SIZES.find((s) => s <= max && s <= left) ?? 1;
    yield items.slice(i, i + size);
    i += size;
  }
}

/** An IN list padded (with its last value) to the next fixed size, so the statement text repeats. */
export function paddedIn<T>(values: readonly T[]): T[] {
  const n = values.length;
  const last = values[n - 1];
  if (last === undefined) return [];
  const size = n <= 4 ? n : n <= 16 ? 16 : n <= 64 ? 64 : n <= 256 ? 256 : n <= 512 ? 512 : 1024 * Math.ceil(n / 1024);
  const out = values.slice();
  while (out.length < size) out.push(last);
  return out;
}
