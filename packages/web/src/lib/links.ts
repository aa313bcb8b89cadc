/** URLs of the UI's own pages, and search values quoted for the query language. */
import { apiUrl, seg, type ParamValue } from '../api/client';

export type ImageTab = 'summary' | 'software' | 'vulnerabilities' | 'layers';

export function imageHref(imageId: string, tab: ImageTab = 'summary', params: Readonly<Record<string, ParamValue>> = {}): string {
  return apiUrl(`/images/${seg(imageId)}/${tab}`, params);
}

export function vulnerabilityHref(id: string): string {
  return `/vulnerabilities/${seg(id)}`;
}

/**
 * A value as a quoted search word: quotes and backslashes escaped, and `*` escaped too (a star inside quotes is
 * still a wildcard in this language, and names are matched literally here).
 */
export function quoted(value: string): string {
  return `"${value.replace(/[\\"*]/g, (c) => `\\${c}`)}"`;
}
