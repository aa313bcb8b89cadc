/** Display formats for values from the API (all return plain strings: React renders them as text). */

/** `2024-01-01T00:05:00Z` → `2024-01-01 00:05 UTC`: one fixed zone, so two people comparing screens agree. */
export function formatDate(iso: string | null | undefined): string {
  if (iso === null || iso === undefined || iso === '') return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())} UTC`;
}

export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 1 : 0)} ${units[i] ?? ''}`;
}

/** `sha256:4f1c…` → the first 12 hex digits, as `docker images` shows ids. */
export function shortDigest(digest: string | null | undefined): string {
  if (digest === null || digest === undefined) return '—';
  const hex = digest.includes(':') ? digest.slice(digest.indexOf(':') + 1) : digest;
  return hex.slice(0, 12);
}

export function formatPercent(p: number | null | undefined, digits = 1): string {
  if (p === null || p === undefined) return '—';
  return `${(p * 100).toFixed(digits)}%`;
}

export function formatScore(s: number | null | undefined): string {
  return s === null || s === undefined ? '—' : s.toFixed(1);
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString('en')} ${n === 1 ? one : many}`;
}

/** The name a person knows an image by: its first repo:tag, else its digest reference, else the scanned ref. */
export function imageName(image: { repoTags: readonly string[]; repoDigests: readonly string[]; ref: string }): string {
  return image.repoTags[0] ?? image.repoDigests[0] ?? image.ref;
}
