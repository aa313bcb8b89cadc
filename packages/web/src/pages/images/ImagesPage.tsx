/** The landing page: every image, searched with the backend's query language; the URL holds the search. */
import { apiUrl } from '../../api/client';
import { SCAN_TYPES, type ImageSummary, type Page } from '../../api/types';
import { useApi } from '../../api/useApi';
import { DataTable } from '../../components/DataTable';
import { ListStatus, visibleRows } from '../../components/ListStatus';
import { PageTitle } from '../../components/PageTitle';
import { Pager } from '../../components/Pager';
import { QuickFilters } from '../../components/QuickFilters';
import { SearchBar } from '../../components/SearchBar';
import { imageHref } from '../../lib/links';
import { useListParams } from '../../lib/useListParams';
import { imageColumns } from './imageColumns';

const EXAMPLES = ['scanType:SCA', 'vulnerabilities.severity:CRITICAL AND os:debian', 'software.name:openssl', 'created>2024-01-01'];

export function ImagesPage() {
  const list = useListParams('-lastSeen');
  const res = useApi<Page<ImageSummary>>(apiUrl('/api/v1/images', { q: list.q, sort: list.sort, limit: list.limit, offset: list.offset }));
  const rows = visibleRows(res);
  return (
    <section className="page">
      <PageTitle title="Images" />
      <h1>Images</h1>
      <SearchBar label="Search images" value={list.q} onSearch={list.setQ} syntaxError={res.error?.isQuerySyntax ? res.error : null} examples={EXAMPLES} placeholder="scanType:SCA os:debian">
        <QuickFilters label="Scan type" field="scanType" values={SCAN_TYPES} q={list.q} onChange={list.setQ} />
      </SearchBar>
      <ListStatus
        res={res}
        what="images"
        searching={list.q !== ''}
        emptyHint={
          <>
            No images yet. Upload a scan: <code>tally scan IMAGE --perform-sca-scan --upload URL --token TOKEN</code>
          </>
        }
      />
      {rows !== null && res.data !== undefined && (
        <>
          <DataTable
            label="Images"
            columns={imageColumns}
            rows={rows}
            rowKey={(i) => i.imageId}
            sort={list.sort}
            onSort={list.setSort}
            rowHref={(i) => imageHref(i.imageId)}
            busy={res.loading}
          />
          <Pager total={res.data.total} page={list.page} limit={list.limit} noun="images" onPage={list.setPage} onLimit={list.setLimit} />
        </>
      )}
    </section>
  );
}
