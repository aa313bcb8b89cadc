/**
 * `WWW-Authenticate` parsing (RFC 9110 §11.6.1): one header may carry several challenges, each a scheme followed
 * by either a token68 or comma-separated `name=value` params, values quoted or bare. Commas separate both params and
 * challenges, so a bare token after a comma starts a new challenge only when no `=` follows it.
 */

export interface Challenge {
  /** Lower-cased: schemes are case-insensitive. */
  readonly scheme: string;
  /** Lower-cased names; values as sent (unquoted, escapes removed). */
  readonly params: Readonly<Record<string, string>>;
  readonly token68: string | null;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+/;
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*/;

export function parseChallenges(header: string): Challenge[] {
  const out: Challenge[] = [];
  let i = 0;
  const skipWs = (): void => {
    while (i < header.length && (header[i] === ' ' || header[i] === '\t')) i++;
  };
  const skipSeparators = (): void => {
    while (i < header.length && (header[i] === ' ' || header[i] === '\t' || header[i] === ',')) i++;
  };
  const token = (): string | null => {
    const m = TOKEN.exec(header.slice(i));
    if (!m) return null;
    i += m[0].length;
    return m[0];
  };
  const quoted = (): string => {
    // at the opening quote; a missing closing quote takes the rest (lenient, like most clients)
    i++;
    let v = '';
    while (i < header.length && header[i] !== '"') {
      if (header[i] === '\\' && i + 1 < header.length) i++;
      v += header[i];
      i++;
    }
    i++;
    return v;
  };
  /** An unquoted value: a token by the RFC, but servers send bare URLs too, so take all up to a comma or space. */
  const bare = (): string => {
    const m = /^[^,\s]*/.exec(header.slice(i))!;
    i += m[0].length;
    return m[0];
  };
  /** Whether what follows (after optional whitespace) is `token =`, i.e. a param rather than a new scheme. */
  const paramAhead = (): boolean => {
    const m = /^[ \t]*([!#$%&'*+\-.^_`|~0-9A-Za-z]+)[ \t]*=(?!=)/.exec(header.slice(i));
    return m !== null;
  };

  for (;;) {
    skipSeparators();
    if (i >= header.length) break;
    const scheme = token();
    if (scheme === null) break; // garbage: keep what was understood so far
    const params: Record<string, string> = {};
    let token68: string | null = null;
    skipWs();
    if (!paramAhead()) {
      const m = TOKEN68.exec(header.slice(i));
      if (m && (i + m[0].length >= header.length || /[ \t,]/.test(header[i + m[0].length] ?? ''))) {
        token68 = m[0];
        i += m[0].length;
      }
    }
    while (token68 === null) {
      skipWs();
      if (!paramAhead()) break;
      const name = token()!.toLowerCase();
      skipWs();
      i++; // '='
      skipWs();
      const value = header[i] === '"' ? quoted() : bare();
      params[name] = value;
      skipWs();
      if (header[i] !== ',') break;
      i++;
      // after a comma: another param of this challenge, or the next challenge
      const save = i;
      skipSeparators();
      if (!paramAhead()) {
        i = save;
        break;
      }
    }
    out.push({ scheme: scheme.toLowerCase(), params, token68 });
  }
  return out;
}
