/** Every detection of one image, with the scan type of the package it was found in; server-searched and paged. */
import { useMemo } from 'react';
import { Link } from 'react-router';
import { apiUrl, seg } from '../../api/client';
import { SCAN_TYPES, type ImageDetail, type Page, type VulnerabilityItem } from '../../api/types';
import { useApi } from '../../api/useApi';
import { DataTable } from '../../components/DataTable';
import { ListStatus, visibleRows } from '../../components/ListStatus';
import { Pager } from '../../components/Pager';
import { QuickFilters } from '../../components/QuickFilters';
import { ScanTypeBadge } from '../../components/ScanTypes';
import { SearchBar } from '../../components/SearchBar';
import { SeverityBadge } from '../../components/Severity';
import { columnHelper } from '../../components/table';
import { formatPercent, formatScore } from '../../lib/format';
import { vulnerabilityHref } from '../../lib/links';
import { withLayer } from '../../lib/query';
import { useListParams } from '../../lib/useListParams';
import { ContainerNote } from './ContainerNote';
import { LayerCell } from './LayerCell';
import { LayerFilter } from './LayerFilter';

const EXAMPLES = ['scanType:SCA', 'severity>=HIGH', 'fixed:true', 'kev:true', 'software.name:openssl'];
const h = columnHelper<VulnerabilityItem>();

function FixCell({ v }: { v: VulnerabilityItem }) {
  if (v.fixedVersions.length > 0) return <span className="break-all">{v.fixedVersions.join(', ')}</span>;
  return <span className="muted">{v.status === 'affected' ? 'no fix yet' : v.status.replace(/_/g, ' ')}</span>;
}

function vulnerabilityColumns(onLayer: (index: number) => void) {
  return h.columns([
    h.accessor('id', { id: 'id', header: 'ID', cell: ({ getValue }) => <Link to={vulnerabilityHref(getValue())} className="nowrap">{getValue()}</Link> }),
    h.accessor('severity', { id: 'severity', header: 'Severity', cell: ({ getValue }) => <SeverityBadge severity={getValue()} /> }),
    h.accessor((v) => v.package.name, { id: 'package', header: 'Package', cell: ({ row }) => <span className="break-all" title={row.original.package.purl}>{row.original.package.name}</span> }),
    h.display({ id: 'installed', header: 'Installed', cell: ({ row }) => <span className="break-all">{row.original.package.version}</span> }),
    h.display({ id: 'fixed', header: 'Fixed in', cell: ({ row }) => <FixCell v={row.original} /> }),
    h.accessor('scanType', { id: 'scanType', header: 'Scan type', cell: ({ getValue }) => <ScanTypeBadge scanType={getValue()} /> }),
    h.accessor((v) => v.layer.index, { id: 'layer', header: 'Layer', cell: ({ row }) => <LayerCell layer={row.original.layer} onSelect={onLayer} /> }),
    h.display({ id: 'kev', header: 'KEV', cell: ({ row }) => (row.original.kev ? <span className="kev">KEV</span> : <span className="muted">no</span>) }),
    h.accessor((v) => v.epss ?? -1, { id: 'epss', header: 'EPSS', sortDescFirst: true, meta: { className: 'num-col' }, cell: ({ row }) => formatPercent(row.original.epss) }),
    h.accessor((v) => v.cvssScore ?? -1, { id: 'cvss', header: 'CVSS', sortDescFirst: true, meta: { className: 'num-col' }, cell: ({ row }) => formatScore(row.original.cvssScore) }),
  ]);
}

export function VulnerabilitiesTab({ image, layer }: { image: ImageDetail; layer: number | null }) {
  const list = useListParams('severity');
  const sent = withLayer(list.q, layer);
  const res = useApi<Page<VulnerabilityItem>>(
    apiUrl(`/api/v1/images/${seg(image.imageId)}/vulnerabilities`, { q: sent.q, sort: list.sort, limit: list.limit, offset: list.offset }),
  );
  const columns = useMemo(() => vulnerabilityColumns((i) => list.setParam('layer', String(i))), [list]);
  const rows = visibleRows(res);
  return (
    <div className="tab-body">
      <h2 className="visually-hidden">Vulnerabilities</h2>
      <SearchBar label="Search vulnerabilities" value={list.q} onSearch={list.setQ} syntaxError={res.error?.isQuerySyntax ? res.error : null} columnShift={sent.shift} examples={EXAMPLES}>
        <QuickFilters label="Scan type" field="scanType" values={SCAN_TYPES} q={list.q} onChange={list.setQ} />
      </SearchBar>
      {layer !== null && <LayerFilter imageId={image.imageId} layer={layer} onClear={() => list.setParam('layer', null)} />}
      <ListStatus res={res} what="vulnerabilities" searching={list.q !== '' || layer !== null} emptyHint="No vulnerabilities were detected in this image." />
      {rows !== null && res.data !== undefined && (
        <>
          <DataTable label="Vulnerabilities" columns={columns} rows={rows} rowKey={(v, i) => `${v.id}|${v.package.id}|${i}`} sort={list.sort} onSort={list.setSort} rowHref={(v) => vulnerabilityHref(v.id)} busy={res.loading} />
          <Pager total={res.data.total} page={list.page} limit={list.limit} noun="vulnerabilities" onPage={list.setPage} onLimit={list.setLimit} />
        </>
      )}
      <ContainerNote image={image} />
    </div>
  );
}
