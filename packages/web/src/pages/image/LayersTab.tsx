/**
 * One row per layer with what created it and what it introduced; a bar chart of vulnerabilities per layer and a
 * severity ring. Choosing a layer (row, its index, or its bar) narrows the other tabs to it.
 */
import { useMemo } from 'react';
import { Link, useSearchParams } from 'react-router';
import { apiUrl, seg } from '../../api/client';
import type { ImageDetail, LayerItem, Page } from '../../api/types';
import { useApi } from '../../api/useApi';
import { LayerBarChart } from '../../charts/LayerBarChart';
import { SeverityDonut } from '../../charts/SeverityDonut';
import { DataTable } from '../../components/DataTable';
import { Missing } from '../../components/Missing';
import { SeverityCounts } from '../../components/Severity';
import { Empty, ErrorNotice, Loading } from '../../components/States';
import { columnHelper } from '../../components/table';
import { formatBytes, plural, shortDigest } from '../../lib/format';
import { imageHref } from '../../lib/links';

const h = columnHelper<LayerItem>();

function layerColumns(selected: number | null, onSelect: (index: number) => void) {
  return h.columns([
    h.display({
      id: 'index',
      header: 'Layer',
      cell: ({ row }) => (
        <button type="button" className="link-button" aria-pressed={selected === row.original.index} onClick={() => onSelect(row.original.index)}>
          L{row.original.index}
        </button>
      ),
    }),
    h.display({
      id: 'createdBy',
      header: 'Created by',
      cell: ({ row }) =>
        row.original.createdBy === null ? (
          <Missing />
        ) : (
          <code className="created-by wrap-anywhere" title={row.original.createdBy}>
            {row.original.createdBy}
          </code>
        ),
    }),
    h.display({ id: 'size', header: 'Size', meta: { className: 'num-col' }, cell: ({ row }) => <span className="nowrap">{formatBytes(row.original.size)}</span> }),
    h.display({ id: 'digest', header: 'Digest', cell: ({ row }) => <code title={row.original.digest ?? row.original.diffId ?? ''}>{shortDigest(row.original.digest ?? row.original.diffId)}</code> }),
    h.display({
      id: 'packages',
      header: 'Packages',
      cell: ({ row }) => {
        const p = row.original.packages;
        return (
          <span className="nowrap">
            {p.total} <span className="muted">({p.os} OS, {p.lang} non-OS)</span>
          </span>
        );
      },
    }),
    h.display({
      id: 'vulnerabilities',
      header: 'Vulnerabilities',
      cell: ({ row }) => <SeverityCounts counts={row.original.vulnerabilities.bySeverity} total={row.original.vulnerabilities.total} />,
    }),
  ]);
}

function SelectedLayer({ image, layer }: { image: ImageDetail; layer: LayerItem }) {
  const keep = { layer: layer.index };
  return (
    <div className="layer-filter" role="status">
      <span>
        Layer <strong>L{layer.index}</strong> selected: {plural(layer.packages.total, 'package')}, {plural(layer.vulnerabilities.total, 'vulnerability', 'vulnerabilities')} introduced.
      </span>
      <span className="actions">
        <Link to={imageHref(image.imageId, 'software', keep)}>Its packages</Link>
        <Link to={imageHref(image.imageId, 'vulnerabilities', keep)}>Its vulnerabilities</Link>
      </span>
    </div>
  );
}

export function LayersTab({ image, layer }: { image: ImageDetail; layer: number | null }) {
  const [, setParams] = useSearchParams();
  const res = useApi<Page<LayerItem>>(apiUrl(`/api/v1/images/${seg(image.imageId)}/layers`, { limit: 500 }));
  // Choosing the selected layer again clears the selection.
  const select = useMemo(
    () => (index: number) =>
      setParams((prev) => {
        const next = new URLSearchParams(prev);
        if (next.get('layer') === String(index)) next.delete('layer');
        else next.set('layer', String(index));
        return next;
      }),
    [setParams],
  );
  const columns = useMemo(() => layerColumns(layer, select), [layer, select]);

  if (res.error !== undefined) return <ErrorNotice error={res.error} what="the layers" />;
  if (res.data === undefined) return <Loading what="layers" />;
  const layers = res.data.items;
  if (layers.length === 0) return <Empty>This image has no layers recorded.</Empty>;
  const chosen = layers.find((l) => l.index === layer);
  return (
    <div className="tab-body">
      <h2 className="visually-hidden">Layers</h2>
      <div className="charts">
        <LayerBarChart layers={layers} selected={layer} onSelect={select} />
        <SeverityDonut counts={image.vulnerabilities} title="Vulnerabilities by severity" />
      </div>
      {chosen !== undefined && <SelectedLayer image={image} layer={chosen} />}
      <p className="muted">Choose a layer to see only the packages and vulnerabilities it introduced on the other tabs.</p>
      <DataTable
        label="Layers"
        columns={columns}
        rows={layers}
        rowKey={(l) => String(l.index)}
        onActivate={(l) => select(l.index)}
        rowClassName={(l) => (l.index === layer ? 'is-selected' : undefined)}
      />
    </div>
  );
}
