/** Columns of the Images list; sortable columns carry the server's sort field as their id. */
import { Link } from 'react-router';
import type { ImageSummary, Severity } from '../../api/types';
import { columnHelper } from '../../components/table';
import { ScanTypeList } from '../../components/ScanTypes';
import { Missing } from '../../components/Missing';
import { formatDate, imageName, shortDigest } from '../../lib/format';
import { imageHref } from '../../lib/links';

const h = columnHelper<ImageSummary>();

function SeverityNumber({ n, severity }: { n: number; severity: Severity }) {
  return <span className={n > 0 ? `num sev-text-${severity}` : 'num is-zero'}>{n}</span>;
}

export const imageColumns = h.columns([
  h.accessor((i) => imageName(i), {
    id: 'repo',
    header: 'Repo:tag',
    cell: ({ row }) => {
      const i = row.original;
      const more = i.repoTags.length - 1;
      return (
        <>
          <Link to={imageHref(i.imageId)} className="break-all">
            {imageName(i)}
          </Link>
          {more > 0 && <span className="muted"> +{more} more</span>}
        </>
      );
    },
  }),
  h.accessor('imageId', {
    id: 'imageId',
    header: 'Image ID',
    cell: ({ row }) => (
      <code title={row.original.imageId}>{shortDigest(row.original.imageId)}</code>
    ),
  }),
  h.accessor((i) => i.os?.prettyName ?? i.os?.family ?? '', {
    id: 'os',
    header: 'OS',
    cell: ({ getValue }) => (getValue() === '' ? <Missing /> : getValue()),
  }),
  h.accessor((i) => i.created ?? '', {
    id: 'created',
    header: 'Created',
    sortDescFirst: true,
    cell: ({ row }) => <span className="nowrap">{formatDate(row.original.created)}</span>,
  }),
  h.display({
    id: 'scanTypes',
    header: 'Scan types',
    cell: ({ row }) => <ScanTypeList scanTypes={row.original.scanTypes.filter((s) => s.active).map((s) => s.scanType)} />,
  }),
  h.accessor((i) => i.vulnerabilities.bySeverity.CRITICAL, {
    id: 'critical',
    header: 'Critical',
    meta: { className: 'num-col' },
    cell: ({ getValue }) => <SeverityNumber n={getValue()} severity="CRITICAL" />,
  }),
  h.accessor((i) => i.vulnerabilities.bySeverity.HIGH, {
    id: 'high',
    header: 'High',
    meta: { className: 'num-col' },
    cell: ({ getValue }) => <SeverityNumber n={getValue()} severity="HIGH" />,
  }),
  h.display({
    id: 'medium',
    header: 'Medium',
    meta: { className: 'num-col' },
    cell: ({ row }) => <SeverityNumber n={row.original.vulnerabilities.bySeverity.MEDIUM} severity="MEDIUM" />,
  }),
  h.display({
    id: 'low',
    header: 'Low',
    meta: { className: 'num-col' },
    cell: ({ row }) => <SeverityNumber n={row.original.vulnerabilities.bySeverity.LOW} severity="LOW" />,
  }),
  h.accessor((i) => i.vulnerabilities.total, {
    id: 'vulnerabilities',
    header: 'Total',
    meta: { className: 'num-col' },
    cell: ({ getValue }) => <span className="num">{getValue()}</span>,
  }),
]);
