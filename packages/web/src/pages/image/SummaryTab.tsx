/** General information about an image, with the Scan Types field: every scan type run on it and when. */
import { Link } from 'react-router';
import { SEVERITIES, type ImageDetail, type ScanTypeInfo } from '../../api/types';
import { Missing } from '../../components/Missing';
import { ScanTypeBadge } from '../../components/ScanTypes';
import { SeverityCounts } from '../../components/Severity';
import { formatDate, plural } from '../../lib/format';
import { apiUrl } from '../../api/client';
import { quoted } from '../../lib/links';

function TextList({ items }: { items: readonly string[] }) {
  if (items.length === 0) return <Missing />;
  return (
    <ul className="plain-list">
      {items.map((t) => (
        <li key={t} className="break-all">
          {t}
        </li>
      ))}
    </ul>
  );
}

function ScanTypesField({ scans }: { scans: readonly ScanTypeInfo[] }) {
  if (scans.length === 0) return <span className="muted">No scan results stored.</span>;
  return (
    <ul className="plain-list scan-type-list" aria-label="Scan types">
      {scans.map((s) => (
        <li key={s.scanType} className={s.active ? undefined : 'is-superseded'}>
          <ScanTypeBadge scanType={s.scanType} /> last run <time dateTime={s.scannedAt}>{formatDate(s.scannedAt)}</time>
          {' · '}
          {plural(s.packages, 'package')}, {plural(s.vulnerabilities, 'vulnerability', 'vulnerabilities')}
          {' · '}
          <span className="muted">received {formatDate(s.receivedAt)} from tally {s.toolVersion}</span>
          {!s.active && <span className="muted"> (superseded by a newer scan of another type)</span>}
        </li>
      ))}
    </ul>
  );
}

export function SummaryTab({ image }: { image: ImageDetail }) {
  const platform = image.platform === null ? null : [image.platform.os, image.platform.architecture, image.platform.variant].filter((x) => x !== null && x !== '').join('/');
  const byType = Object.entries(image.vulnerabilitiesByScanType);
  return (
    <div className="summary">
      <dl className="facts">
        <dt>Scan Types</dt>
        <dd>
          <ScanTypesField scans={image.scanTypes} />
        </dd>
        <dt>Image ID</dt>
        <dd>
          <code className="wrap-anywhere">{image.imageId}</code>
        </dd>
        <dt>Repo tags</dt>
        <dd>
          <TextList items={image.repoTags} />
        </dd>
        <dt>Repo digests</dt>
        <dd>
          <TextList items={image.repoDigests} />
        </dd>
        <dt>Manifest digest</dt>
        <dd>{image.manifestDigest === null ? <Missing /> : <code className="wrap-anywhere">{image.manifestDigest}</code>}</dd>
        <dt>Operating system</dt>
        <dd>{image.os === null ? <Missing /> : (image.os.prettyName ?? [image.os.family, image.os.version].filter(Boolean).join(' '))}</dd>
        <dt>Platform</dt>
        <dd>{platform === null || platform === '' ? <Missing /> : platform}</dd>
        <dt>Created</dt>
        <dd>{formatDate(image.created)}</dd>
        <dt>First uploaded</dt>
        <dd>{formatDate(image.firstSeen)}</dd>
        <dt>Last uploaded</dt>
        <dd>{formatDate(image.lastSeen)}</dd>
        <dt>Scanned from</dt>
        <dd className="break-all">
          {image.ref} <span className="muted">({image.source})</span>
        </dd>
        <dt>Layers</dt>
        <dd>{image.layers}</dd>
        <dt>Packages</dt>
        <dd>{image.packages}</dd>
        <dt>Vulnerabilities</dt>
        <dd>
          <SeverityCounts counts={image.vulnerabilities.bySeverity} total={image.vulnerabilities.total} /> <span className="muted">({image.vulnerabilities.total} in all)</span>
        </dd>
        <dt>Running containers</dt>
        <dd>
          {image.containers === 0 ? (
            'none reported'
          ) : (
            <Link to={apiUrl('/containers', { q: `imageId:${quoted(image.imageId)}` })}>{plural(image.containers, 'container')}</Link>
          )}
        </dd>
        <dt>Sensors</dt>
        <dd>
          {image.sensors.length === 0 ? (
            <Missing />
          ) : (
            <ul className="plain-list">
              {image.sensors.map((s) => (
                <li key={s.id}>
                  {s.type} sensor on <span className="break-all">{s.host || 'an unnamed host'}</span>, tally {s.version}
                  {s.performScaScan ? ', with SCA' : ', without SCA'} · last upload {formatDate(s.lastSeen)}
                </li>
              ))}
            </ul>
          )}
        </dd>
      </dl>
      {byType.length > 0 && (
        <div className="table-wrap">
          <table className="data-table compact">
            <caption>Vulnerabilities by scan type</caption>
            <thead>
              <tr>
                <th scope="col">Scan type</th>
                {SEVERITIES.map((s) => (
                  <th key={s} scope="col" className="num-col">
                    {s.charAt(0) + s.slice(1).toLowerCase()}
                  </th>
                ))}
                <th scope="col" className="num-col">
                  Total
                </th>
              </tr>
            </thead>
            <tbody>
              {byType.map(([type, counts]) => (
                <tr key={type}>
                  <th scope="row" data-label="Scan type">
                    <ScanTypeBadge scanType={type} />
                  </th>
                  {SEVERITIES.map((s) => (
                    <td key={s} className="num-col" data-label={s.charAt(0) + s.slice(1).toLowerCase()}>
                      {counts.bySeverity[s]}
                    </td>
                  ))}
                  <td className="num-col" data-label="Total">
                    {counts.total}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
