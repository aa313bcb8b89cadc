/** Software across all images: one row per (type, name, version), with how many images have it. */
import { Link } from 'react-router';
import { apiUrl } from '../api/client';
import { SCAN_TYPES, type FleetSoftwareItem, type Page } from '../api/types';
import { useApi } from '../api/useApi';
import { DataTable } from '../components/DataTable';
import { ListStatus, visibleRows } from '../components/ListStatus';
import { PageTitle } from '../components/PageTitle';
import { Pager } from '../components/Pager';
import { QuickFilters } from '../components/QuickFilters';
import { ScanTypeList } from '../components/ScanTypes';
import { SearchBar } from '../components/SearchBar';
import { columnHelper } from '../components/table';
import { plural } from '../lib/format';
import { quoted } from '../lib/links';
import { useListParams } from '../lib/useListParams';

const EXAMPLES = ['scanType:SCA', 'type:npm', 'class:os name:openssl*'];
const h = columnHelper<FleetSoftwareItem>();

/** The Images page searched for the images that have this exact package. */
function imagesWith(p: FleetSoftwareItem): string {
  return apiUrl('/images', { q: `software.name:${quoted(p.name)} software.version:${quoted(p.version)}` });
}

const columns = h.columns([
  h.accessor('name', { id: 'name', header: 'Name', cell: ({ row }) => <span className="break-all" title={row.original.purl}>{row.original.name}</span> }),
  h.accessor('version', { id: 'version', header: 'Version', cell: ({ getValue }) => <span className="break-all">{getValue()}</span> }),
  h.accessor('type', { id: 'type', header: 'Type' }),
  h.display({ id: 'class', header: 'Kind', cell: ({ row }) => (row.original.class === 'os' ? 'OS' : 'Non-OS') }),
  h.display({ id: 'scanTypes', header: 'Scan types', cell: ({ row }) => <ScanTypeList scanTypes={row.original.scanTypes} /> }),
  h.accessor('images', {
    id: 'images',
    header: 'Images',
    meta: { className: 'num-col' },
    cell: ({ row }) => <Link to={imagesWith(row.original)}>{plural(row.original.images, 'image')}</Link>,
  }),
]);

export function SoftwarePage() {
  const list = useListParams('name');
  const res = useApi<Page<FleetSoftwareItem>>(apiUrl('/api/v1/software', { q: list.q, sort: list.sort, limit: list.limit, offset: list.offset }));
  const rows = visibleRows(res);
  return (
    <section className="page">
      <PageTitle title="Software" />
      <h1>Software</h1>
      <SearchBar label="Search software in all images" value={list.q} onSearch={list.setQ} syntaxError={res.error?.isQuerySyntax ? res.error : null} examples={EXAMPLES}>
        <QuickFilters label="Scan type" field="scanType" values={SCAN_TYPES} q={list.q} onChange={list.setQ} />
      </SearchBar>
      <ListStatus res={res} what="packages" searching={list.q !== ''} />
      {rows !== null && res.data !== undefined && (
        <>
          <DataTable label="Software" columns={columns} rows={rows} rowKey={(p) => `${p.type}|${p.name}|${p.version}`} sort={list.sort} onSort={list.setSort} rowHref={imagesWith} busy={res.loading} />
          <Pager total={res.data.total} page={list.page} limit={list.limit} noun="packages" onPage={list.setPage} onLimit={list.setLimit} />
        </>
      )}
    </section>
  );
}
