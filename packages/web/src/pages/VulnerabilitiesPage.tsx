/** Vulnerabilities across all images: one row per id, with the images and packages it affects. */
import { Link } from 'react-router';
import { apiUrl } from '../api/client';
import { SCAN_TYPES, type FleetVulnerabilityItem, type Page } from '../api/types';
import { useApi } from '../api/useApi';
import { DataTable } from '../components/DataTable';
import { ListStatus, visibleRows } from '../components/ListStatus';
import { PageTitle } from '../components/PageTitle';
import { Pager } from '../components/Pager';
import { QuickFilters } from '../components/QuickFilters';
import { ScanTypeList } from '../components/ScanTypes';
import { SearchBar } from '../components/SearchBar';
import { SeverityBadge } from '../components/Severity';
import { columnHelper } from '../components/table';
import { formatPercent, formatScore, plural } from '../lib/format';
import { quoted, vulnerabilityHref } from '../lib/links';
import { useListParams } from '../lib/useListParams';

const EXAMPLES = ['scanType:SCA', 'severity>=HIGH', 'kev:true', 'fixed:true software.type:npm'];
const h = columnHelper<FleetVulnerabilityItem>();

function PackageNames({ names }: { names: readonly string[] }) {
  const shown = names.slice(0, 3);
  return (
    <span className="break-all">
      {shown.join(', ')}
      {names.length > shown.length && <span className="muted"> +{names.length - shown.length} more</span>}
    </span>
  );
}

const columns = h.columns([
  h.accessor('id', { id: 'id', header: 'ID', cell: ({ getValue }) => <Link to={vulnerabilityHref(getValue())} className="nowrap">{getValue()}</Link> }),
  h.accessor('severity', { id: 'severity', header: 'Severity', cell: ({ getValue }) => <SeverityBadge severity={getValue()} /> }),
  h.display({ id: 'packages', header: 'Packages', cell: ({ row }) => <PackageNames names={row.original.packages} /> }),
  h.display({ id: 'scanTypes', header: 'Scan types', cell: ({ row }) => <ScanTypeList scanTypes={row.original.scanTypes} /> }),
  h.accessor('images', {
    id: 'images',
    header: 'Images',
    meta: { className: 'num-col' },
    cell: ({ row }) => <Link to={apiUrl('/images', { q: `vulnerabilities.id:${quoted(row.original.id)}` })}>{plural(row.original.images, 'image')}</Link>,
  }),
  h.accessor((v) => v.cvssScore ?? -1, { id: 'cvss', header: 'CVSS', sortDescFirst: true, meta: { className: 'num-col' }, cell: ({ row }) => formatScore(row.original.cvssScore) }),
  h.accessor((v) => v.epss ?? -1, { id: 'epss', header: 'EPSS', sortDescFirst: true, meta: { className: 'num-col' }, cell: ({ row }) => formatPercent(row.original.epss) }),
  h.display({ id: 'kev', header: 'KEV', cell: ({ row }) => (row.original.kev ? <span className="kev">KEV</span> : <span className="muted">no</span>) }),
  h.display({ id: 'fix', header: 'Fix', cell: ({ row }) => (row.original.fixAvailable ? 'available' : <span className="muted">none yet</span>) }),
]);

export function VulnerabilitiesPage() {
  const list = useListParams('severity');
  const res = useApi<Page<FleetVulnerabilityItem>>(apiUrl('/api/v1/vulnerabilities', { q: list.q, sort: list.sort, limit: list.limit, offset: list.offset }));
  const rows = visibleRows(res);
  return (
    <section className="page">
      <PageTitle title="Vulnerabilities" />
      <h1>Vulnerabilities</h1>
      <SearchBar label="Search vulnerabilities in all images" value={list.q} onSearch={list.setQ} syntaxError={res.error?.isQuerySyntax ? res.error : null} examples={EXAMPLES}>
        <QuickFilters label="Scan type" field="scanType" values={SCAN_TYPES} q={list.q} onChange={list.setQ} />
      </SearchBar>
      <ListStatus res={res} what="vulnerabilities" searching={list.q !== ''} />
      {rows !== null && res.data !== undefined && (
        <>
          <DataTable label="Vulnerabilities" columns={columns} rows={rows} rowKey={(v) => v.id} sort={list.sort} onSort={list.setSort} rowHref={(v) => vulnerabilityHref(v.id)} busy={res.loading} />
          <Pager total={res.data.total} page={list.page} limit={list.limit} noun="vulnerabilities" onPage={list.setPage} onLimit={list.setLimit} />
        </>
      )}
    </section>
  );
}
