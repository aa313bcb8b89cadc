/**
 * Small edits of `q` text for the quick filters. The server owns the language (packages/server/src/query); the UI
 * only adds or removes whole top-level `field:value` words, so whatever the user typed around them is kept.
 */

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The query with everything inside quotes or parentheses blanked to spaces (same length), so that patterns run on
 * it see only top-level words; positions still index the original text.
 */
function topLevel(q: string): string {
  let out = '';
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < q.length; i++) {
    const c = q[i] ?? '';
    if (c === '\\') {
      const pair = q.slice(i, i + 2);
      out += depth === 0 && !quoted ? pair : ' '.repeat(pair.length);
      i++;
      continue;
    }
    if (quoted) {
      if (c === '"') quoted = false;
      out += ' ';
      continue;
    }
    if (c === '"') {
      quoted = true;
      out += depth === 0 ? c : ' ';
      continue;
    }
    if (c === '(') depth++;
    const inside = depth > 0;
    if (c === ')') depth = Math.max(0, depth - 1);
    out += inside || c === ')' ? ' ' : c;
  }
  return out;
}

/** Matches of a top-level word `field:value` (or `field=value`), case-insensitive. */
function termMatches(q: string, field: string, value: string): { start: number; end: number }[] {
  const re = new RegExp(`(^|\\s)(${escapeRe(field)}[:=]${escapeRe(value)})(?=\\s|$)`, 'gi');
  const found: { start: number; end: number }[] = [];
  for (const m of topLevel(q).matchAll(re)) {
    const start = (m.index ?? 0) + (m[1] ?? '').length;
    found.push({ start, end: start + (m[2] ?? '').length });
  }
  return found;
}

function hasTopLevelOr(q: string): boolean {
  return /(^|\s)OR(?=\s|$)/i.test(topLevel(q));
}

/** True when the query narrows every result by `field:value` (a top-level AND-ed word). */
export function hasTerm(q: string, field: string, value: string): boolean {
  return !hasTopLevelOr(q) && termMatches(q, field, value).length > 0;
}

export function toggleTerm(q: string, field: string, value: string): string {
  if (hasTerm(q, field, value)) {
    let out = q;
    for (const m of termMatches(q, field, value).reverse()) out = out.slice(0, m.start) + out.slice(m.end);
    return out.replace(/\s+/g, ' ').trim();
  }
  const trimmed = q.trim();
  if (trimmed === '') return `${field}:${value}`;
  // Parenthesise an OR so that the added word narrows the whole search, not its last alternative.
  const base = hasTopLevelOr(trimmed) ? `(${trimmed})` : trimmed;
  return `${base} ${field}:${value}`;
}

/**
 * The user's search narrowed to one layer (Layers tab selection). Returns the text sent to the server and how far
 * the user's text is shifted in it, so that a syntax error's column can be mapped back onto what the user typed.
 */
export function withLayer(q: string, layer: number | null): { q: string; shift: number } {
  if (layer === null) return { q, shift: 0 };
  if (q.trim() === '') return { q: `layer:${layer}`, shift: 0 };
  return { q: `(${q}) layer:${layer}`, shift: 1 };
}
