/** Sensors that talked to this backend: type, host, version, whether they run SCA, last contact. */
import { apiUrl } from '../api/client';
import type { Page, SensorItem } from '../api/types';
import { useApi } from '../api/useApi';
import { DataTable } from '../components/DataTable';
import { ListStatus, visibleRows } from '../components/ListStatus';
import { PageTitle } from '../components/PageTitle';
import { Pager } from '../components/Pager';
import { SearchBar } from '../components/SearchBar';
import { columnHelper } from '../components/table';
import { formatDate } from '../lib/format';
import { useListParams } from '../lib/useListParams';

const EXAMPLES = ['type:general', 'performScaScan:true', 'lastSeen>2026-01-01'];
const h = columnHelper<SensorItem>();

const columns = h.columns([
  h.accessor('type', { id: 'type', header: 'Type' }),
  h.accessor('host', { id: 'host', header: 'Host', cell: ({ getValue }) => <span className="break-all">{getValue() || '(not reported)'}</span> }),
  h.accessor('version', { id: 'version', header: 'Version', cell: ({ getValue }) => <span className="break-all">{getValue()}</span> }),
  h.display({ id: 'sca', header: 'Perform SCA', cell: ({ row }) => (row.original.performScaScan ? 'yes' : 'no') }),
  h.display({ id: 'images', header: 'Images', meta: { className: 'num-col' }, cell: ({ row }) => row.original.images }),
  h.accessor('lastSeen', { id: 'lastSeen', header: 'Last seen', sortDescFirst: true, cell: ({ getValue }) => <span className="nowrap">{formatDate(getValue())}</span> }),
  h.accessor('firstSeen', { id: 'firstSeen', header: 'First seen', sortDescFirst: true, cell: ({ getValue }) => <span className="nowrap">{formatDate(getValue())}</span> }),
]);

export function SensorsPage() {
  const list = useListParams('-lastSeen');
  const res = useApi<Page<SensorItem>>(apiUrl('/api/v1/sensors', { q: list.q, sort: list.sort, limit: list.limit, offset: list.offset }));
  const rows = visibleRows(res);
  return (
    <section className="page">
      <PageTitle title="Sensors" />
      <h1>Sensors</h1>
      <SearchBar label="Search sensors" value={list.q} onSearch={list.setQ} syntaxError={res.error?.isQuerySyntax ? res.error : null} examples={EXAMPLES} />
      <ListStatus res={res} what="sensors" searching={list.q !== ''} />
      {rows !== null && res.data !== undefined && (
        <>
          <DataTable label="Sensors" columns={columns} rows={rows} rowKey={(s) => String(s.id)} sort={list.sort} onSort={list.setSort} busy={res.loading} />
          <Pager total={res.data.total} page={list.page} limit={list.limit} noun="sensors" onPage={list.setPage} onLimit={list.setLimit} />
        </>
      )}
    </section>
  );
}
