/**
 * One image: a header with what identifies it, then the Summary / Installed Software / Vulnerabilities / Layers
 * tabs. The tab is part of the path and a selected layer (`?layer=N`, chosen on the Layers tab) follows the user
 * from tab to tab, narrowing Installed Software and Vulnerabilities to what that layer introduced.
 */
import { useParams, useSearchParams } from 'react-router';
import { apiUrl, seg } from '../../api/client';
import type { ImageDetail } from '../../api/types';
import { useApi } from '../../api/useApi';
import { ErrorNotice, Loading } from '../../components/States';
import { PageTitle } from '../../components/PageTitle';
import { ScanTypeList } from '../../components/ScanTypes';
import { SeverityCounts } from '../../components/Severity';
import { Tabs } from '../../components/Tabs';
import { imageName } from '../../lib/format';
import { imageHref, type ImageTab } from '../../lib/links';
import { SummaryTab } from './SummaryTab';
import { SoftwareTab } from './SoftwareTab';
import { VulnerabilitiesTab } from './VulnerabilitiesTab';
import { LayersTab } from './LayersTab';

const TABS: readonly { id: ImageTab; label: string }[] = [
  { id: 'summary', label: 'Summary' },
  { id: 'software', label: 'Installed Software' },
  { id: 'vulnerabilities', label: 'Vulnerabilities' },
  { id: 'layers', label: 'Layers' },
];

function isTab(t: string | undefined): t is ImageTab {
  return TABS.some((x) => x.id === t);
}

/** The selected layer from `?layer=`, or null. */
export function useSelectedLayer(): number | null {
  const [params] = useSearchParams();
  const raw = params.get('layer');
  if (raw === null || !/^\d{1,4}$/.test(raw)) return null;
  return Number(raw);
}

export function ImageDetailPage() {
  const { id = '', tab } = useParams();
  const selected: ImageTab = isTab(tab) ? tab : 'summary';
  const layer = useSelectedLayer();
  const res = useApi<ImageDetail>(apiUrl(`/api/v1/images/${seg(id)}`));
  const image = res.current ? res.data : undefined;

  if (res.error !== undefined) {
    return (
      <section className="page">
        <PageTitle title="Image" />
        <h1>Image</h1>
        <ErrorNotice error={res.error} what="this image" />
      </section>
    );
  }
  if (image === undefined) return <Loading what="the image" />;

  const name = imageName(image);
  const keep = { layer: layer ?? undefined };
  return (
    <section className="page">
      <PageTitle title={`${name} · ${TABS.find((t) => t.id === selected)?.label ?? ''}`} />
      <header className="page-header">
        <p className="eyebrow">Image</p>
        <h1 className="break-all">{name}</h1>
        <p className="header-facts">
          <code className="wrap-anywhere">{image.imageId}</code>
          <span>{image.os?.prettyName ?? image.os?.family ?? 'OS unknown'}</span>
          <ScanTypeList scanTypes={image.scanTypes.filter((s) => s.active).map((s) => s.scanType)} />
          <SeverityCounts counts={image.vulnerabilities.bySeverity} total={image.vulnerabilities.total} />
        </p>
      </header>
      <Tabs label="Image details" selected={selected} tabs={TABS.map((t) => ({ id: t.id, label: t.label, href: imageHref(image.imageId, t.id, keep) }))}>
        {selected === 'summary' && <SummaryTab image={image} />}
        {selected === 'software' && <SoftwareTab image={image} layer={layer} />}
        {selected === 'vulnerabilities' && <VulnerabilitiesTab image={image} layer={layer} />}
        {selected === 'layers' && <LayersTab image={image} layer={layer} />}
      </Tabs>
    </section>
  );
}
