/**
 * A link to a URL that came from advisory data. Only http(s) URLs become links (a `javascript:` or `data:` URL
 * would run or render attacker content); anything else is shown as plain text. The page is opened without a
 * referrer or an opener handle.
 */
import { safeHttpUrl } from '../lib/url';

export function ExternalLink({ href }: { href: string }) {
  const safe = safeHttpUrl(href);
  if (safe === null) return <span className="break-all">{href}</span>;
  return (
    <a href={safe} target="_blank" rel="noopener noreferrer" className="break-all">
      {href}
    </a>
  );
}
