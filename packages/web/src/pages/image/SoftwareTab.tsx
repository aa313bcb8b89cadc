/**
 * Installed Software of one image. Everything is done by the server: the Packages scope, the search, the sort and
 * the paging, so an image with thousands of packages costs one page of rows in the browser.
 */
import { useMemo } from 'react';
import { apiUrl, seg } from '../../api/client';
import { SCAN_TYPES, type ImageDetail, type Page, type SoftwareItem } from '../../api/types';
import { useApi } from '../../api/useApi';
import { DataTable } from '../../components/DataTable';
import { ListStatus, visibleRows } from '../../components/ListStatus';
import { Pager } from '../../components/Pager';
import { QuickFilters } from '../../components/QuickFilters';
import { ScanTypeBadge } from '../../components/ScanTypes';
import { SearchBar } from '../../components/SearchBar';
import { columnHelper } from '../../components/table';
import { withLayer } from '../../lib/query';
import { useListParams } from '../../lib/useListParams';
import { PathText } from '../../components/PathText';
import { LayerCell } from './LayerCell';
import { LayerFilter } from './LayerFilter';
import { PackagesFilter, parseScope, type PackagesScope } from './PackagesFilter';

const EXAMPLES = ['scanType:SCA', 'type:npm', 'name:lib*', 'location:*node_modules*'];
const h = columnHelper<SoftwareItem>();

function softwareColumns(onLayer: (index: number) => void) {
  return h.columns([
    h.accessor('name', { id: 'name', header: 'Name', cell: ({ row }) => <span className="break-all" title={row.original.purl}>{row.original.name}</span> }),
    h.accessor('version', { id: 'version', header: 'Version', cell: ({ getValue }) => <span className="break-all">{getValue()}</span> }),
    h.accessor('type', { id: 'type', header: 'Type' }),
    h.accessor('scanType', { id: 'scanType', header: 'Scan type', cell: ({ getValue }) => <ScanTypeBadge scanType={getValue()} /> }),
    h.accessor((p) => p.layer.index, { id: 'layer', header: 'Layer', cell: ({ row }) => <LayerCell layer={row.original.layer} onSelect={onLayer} /> }),
    h.display({
      id: 'path',
      header: 'Path',
      cell: ({ row }) => {
        const [first, ...rest] = row.original.locations;
        if (first === undefined) return <span className="muted">—</span>;
        return (
          <span title={row.original.locations.join('\n')}>
            <PathText path={first} />
            {rest.length > 0 && <span className="muted"> +{rest.length} more</span>}
          </span>
        );
      },
    }),
    h.display({ id: 'vulns', header: 'Vulns', meta: { className: 'num-col' }, cell: ({ row }) => <span className="num">{row.original.vulnerabilities}</span> }),
  ]);
}

/** Totals of each Packages scope for the same search, so the filter shows what each choice holds. */
function useScopeCounts(base: string, q: string): Record<PackagesScope, number | undefined> {
  const all = useApi<Page<SoftwareItem>>(apiUrl(base, { q, packages: 'all', limit: 1 }));
  const os = useApi<Page<SoftwareItem>>(apiUrl(base, { q, packages: 'os', limit: 1 }));
  const nonOs = useApi<Page<SoftwareItem>>(apiUrl(base, { q, packages: 'non-os', limit: 1 }));
  const pick = (r: typeof all) => (r.current ? r.data?.total : undefined);
  return { all: pick(all), os: pick(os), 'non-os': pick(nonOs) };
}

export function SoftwareTab({ image, layer }: { image: ImageDetail; layer: number | null }) {
  const list = useListParams('name');
  const scope = parseScope(list.get('packages'));
  const sent = withLayer(list.q, layer);
  const base = `/api/v1/images/${seg(image.imageId)}/software`;
  const res = useApi<Page<SoftwareItem>>(apiUrl(base, { q: sent.q, packages: scope, sort: list.sort, limit: list.limit, offset: list.offset }));
  const counts = useScopeCounts(base, sent.q);
  const columns = useMemo(() => softwareColumns((i) => list.setParam('layer', String(i))), [list]);
  const rows = visibleRows(res);
  return (
    <div className="tab-body">
      <h2 className="visually-hidden">Installed Software</h2>
      <SearchBar label="Search installed software" value={list.q} onSearch={list.setQ} syntaxError={res.error?.isQuerySyntax ? res.error : null} columnShift={sent.shift} examples={EXAMPLES}>
        <div className="filters-row">
          <PackagesFilter value={scope} counts={counts} onChange={(v) => list.setParam('packages', v === 'all' ? null : v)} />
          <QuickFilters label="Scan type" field="scanType" values={SCAN_TYPES} q={list.q} onChange={list.setQ} />
        </div>
      </SearchBar>
      {layer !== null && <LayerFilter imageId={image.imageId} layer={layer} onClear={() => list.setParam('layer', null)} />}
      <ListStatus res={res} what="packages" searching={list.q !== '' || layer !== null || scope !== 'all'} emptyHint="No packages were found in this image." />
      {rows !== null && res.data !== undefined && (
        <>
          <DataTable label="Installed software" columns={columns} rows={rows} rowKey={(p) => String(p.id)} sort={list.sort} onSort={list.setSort} busy={res.loading} />
          <Pager total={res.data.total} page={list.page} limit={list.limit} noun="packages" onPage={list.setPage} onLimit={list.setLimit} />
        </>
      )}
    </div>
  );
}
