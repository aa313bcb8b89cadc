/**
 * A file path (or purl, digest list…) that may break after each '/' on a narrow screen: the segments are text
 * nodes with <wbr> between them, so nothing of the untrusted string is ever parsed as markup.
 */
import { Fragment } from 'react';

export function PathText({ path }: { path: string }) {
  const parts = path.split('/');
  return (
    <span className="path">
      {parts.map((p, i) => (
        <Fragment key={i}>
          {i > 0 && (
            <>
              /<wbr />
            </>
          )}
          {p}
        </Fragment>
      ))}
    </span>
  );
}
