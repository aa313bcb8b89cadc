/**
 * Containers reported by General sensors. Their counts are the OS-package detections of their image only: SCA
 * runs on images, not on running containers (the server decides this; the page says so).
 */
import { useId } from 'react';
import { Link } from 'react-router';
import { apiUrl } from '../api/client';
import type { ContainerItem, Page } from '../api/types';
import { useApi } from '../api/useApi';
import { DataTable } from '../components/DataTable';
import { ListStatus, visibleRows } from '../components/ListStatus';
import { PageTitle } from '../components/PageTitle';
import { Pager } from '../components/Pager';
import { SearchBar } from '../components/SearchBar';
import { SeverityCounts } from '../components/Severity';
import { columnHelper } from '../components/table';
import { formatDate, shortDigest } from '../lib/format';
import { imageHref } from '../lib/links';
import { useListParams } from '../lib/useListParams';

const EXAMPLES = ['state:running', 'host:web-*', 'image:*nginx*'];
const STATES = [
  { value: 'live', label: 'Live' },
  { value: 'removed', label: 'Removed' },
  { value: 'all', label: 'All' },
] as const;
type StateFilter = (typeof STATES)[number]['value'];

const h = columnHelper<ContainerItem>();

const columns = h.columns([
  h.accessor('name', {
    id: 'name',
    header: 'Name',
    cell: ({ row }) => (
      <>
        <span className="break-all">{row.original.name || '(unnamed)'}</span> <code className="muted" title={row.original.containerId}>{shortDigest(row.original.containerId)}</code>
      </>
    ),
  }),
  h.accessor('image', {
    id: 'image',
    header: 'Image',
    cell: ({ row }) =>
      row.original.imageKnown ? (
        <Link to={imageHref(row.original.imageId, 'vulnerabilities', { q: 'class:os' })} className="break-all">
          {row.original.image || shortDigest(row.original.imageId)}
        </Link>
      ) : (
        <span className="break-all" title="This image has not been uploaded: no vulnerabilities are known for it.">
          {row.original.image || shortDigest(row.original.imageId)} <span className="muted">(not scanned)</span>
        </span>
      ),
  }),
  h.accessor('state', { id: 'state', header: 'State' }),
  h.accessor('host', { id: 'host', header: 'Host', cell: ({ getValue }) => <span className="break-all">{getValue()}</span> }),
  h.display({
    id: 'osVulns',
    header: 'OS vulnerabilities',
    cell: ({ row }) => {
      const v = row.original.vulnerabilities;
      return (
        <span className="nowrap">
          <span className="num os-total">{v.total}</span> <SeverityCounts counts={v.bySeverity} total={v.total} />
        </span>
      );
    },
  }),
  h.accessor('lastSeen', { id: 'lastSeen', header: 'Last seen', sortDescFirst: true, cell: ({ getValue }) => <span className="nowrap">{formatDate(getValue())}</span> }),
]);

function StateChoice({ value, onChange }: { value: StateFilter; onChange: (v: StateFilter) => void }) {
  const name = useId();
  return (
    <fieldset className="segmented">
      <legend>Containers</legend>
      {STATES.map((s) => (
        <label key={s.value} className={value === s.value ? 'is-on' : undefined}>
          <input type="radio" name={name} value={s.value} checked={value === s.value} onChange={() => onChange(s.value)} />
          {s.label}
        </label>
      ))}
    </fieldset>
  );
}

export function ContainersPage() {
  const list = useListParams('-lastSeen');
  const raw = list.get('state');
  const state: StateFilter = raw === 'removed' || raw === 'all' ? raw : 'live';
  const res = useApi<Page<ContainerItem>>(apiUrl('/api/v1/containers', { q: list.q, state, sort: list.sort, limit: list.limit, offset: list.offset }));
  const rows = visibleRows(res);
  return (
    <section className="page">
      <PageTitle title="Containers" />
      <h1>Containers</h1>
      <p className="note">
        Containers reported by General sensors. Their vulnerability counts hold only the OS-package detections of their
        image: SCA findings (language packages) are found by scanning the image and are shown on the image.
      </p>
      <SearchBar label="Search containers" value={list.q} onSearch={list.setQ} syntaxError={res.error?.isQuerySyntax ? res.error : null} examples={EXAMPLES}>
        <StateChoice value={state} onChange={(v) => list.setParam('state', v === 'live' ? null : v)} />
      </SearchBar>
      <ListStatus res={res} what="containers" searching={list.q !== '' || state !== 'live'} emptyHint="No containers reported. A General sensor reports the containers of its host." />
      {rows !== null && res.data !== undefined && (
        <>
          <DataTable
            label="Containers"
            columns={columns}
            rows={rows}
            rowKey={(c) => String(c.id)}
            sort={list.sort}
            onSort={list.setSort}
            rowHref={(c) => (c.imageKnown ? imageHref(c.imageId, 'vulnerabilities', { q: 'class:os' }) : undefined)}
            busy={res.loading}
          />
          <Pager total={res.data.total} page={list.page} limit={list.limit} noun="containers" onPage={list.setPage} onLimit={list.setLimit} />
        </>
      )}
    </section>
  );
}
