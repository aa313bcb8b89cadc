/**
 * Sensors that talked to this backend: type, host, version, whether they run SCA, last contact. Below them, the
 * background jobs (registry syncs, one scan per registry manifest, re-evaluations): their state, progress and errors.
 */
import { apiUrl } from '../api/client';
import type { JobItem, JobList, Page, SensorItem } from '../api/types';
import { useApi } from '../api/useApi';
import { DataTable } from '../components/DataTable';
import { ListStatus, visibleRows } from '../components/ListStatus';
import { PageTitle } from '../components/PageTitle';
import { Pager } from '../components/Pager';
import { SearchBar } from '../components/SearchBar';
import { columnHelper } from '../components/table';
import { Empty, ErrorNotice, Loading } from '../components/States';
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

const j = columnHelper<JobItem>();

function progressText(job: JobItem): string {
  if (job.progress === null) return job.state === 'done' ? 'complete' : '';
  const pct = job.progress.total > 0 ? Math.round((100 * job.progress.done) / job.progress.total) : 100;
  return `${job.progress.done}/${job.progress.total} (${pct}%)`;
}

const jobColumns = j.columns([
  j.display({ id: 'name', header: 'Job', cell: ({ row }) => row.original.name }),
  j.display({ id: 'state', header: 'State', cell: ({ row }) => row.original.state }),
  j.display({ id: 'subject', header: 'Subject', cell: ({ row }) => <span className="break-all">{row.original.subject ?? row.original.reason}</span> }),
  j.display({ id: 'progress', header: 'Progress', cell: ({ row }) => progressText(row.original) }),
  j.display({ id: 'attempts', header: 'Attempts', meta: { className: 'num-col' }, cell: ({ row }) => `${row.original.attempts}/${row.original.maxAttempts}` }),
  j.display({ id: 'worker', header: 'Worker', cell: ({ row }) => <span className="break-all">{row.original.worker ?? ''}</span> }),
  j.display({ id: 'queuedAt', header: 'Queued', cell: ({ row }) => <span className="nowrap">{formatDate(row.original.queuedAt)}</span> }),
  j.display({ id: 'error', header: 'Error', cell: ({ row }) => <span className="break-all">{row.original.error ?? ''}</span> }),
]);

const STATE_ORDER: readonly JobItem['state'][] = ['running', 'queued', 'retrying', 'failed', 'done', 'cancelled'];

/** The latest jobs and how many are in each state. */
function JobsSection() {
  const res = useApi<JobList>(apiUrl('/api/v1/jobs', { limit: 50 }));
  const data = res.data;
  return (
    <section aria-labelledby="jobs-heading">
      <h2 id="jobs-heading">Background jobs</h2>
      {res.error !== undefined && <ErrorNotice error={res.error} what="jobs" />}
      {data === undefined && res.loading && <Loading what="jobs" />}
      {data !== undefined && (
        <>
          <p>{STATE_ORDER.map((s) => `${data.counts[s]} ${s}`).join(' · ')}</p>
          {data.items.length === 0 ? (
            <Empty>No background jobs yet. Registry scans appear here (tally registry add).</Empty>
          ) : (
            <DataTable label="Background jobs" columns={jobColumns} rows={data.items} rowKey={(job) => job.id} busy={res.loading} />
          )}
        </>
      )}
    </section>
  );
}

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
      <JobsSection />
    </section>
  );
}
