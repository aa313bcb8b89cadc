/** The "only this layer" notice on the Installed Software and Vulnerabilities tabs, with a way out. */
import { apiUrl, seg } from '../../api/client';
import type { LayerItem, Page } from '../../api/types';
import { useApi } from '../../api/useApi';

export interface LayerFilterProps {
  readonly imageId: string;
  readonly layer: number;
  readonly onClear: () => void;
}

export function LayerFilter({ imageId, layer, onClear }: LayerFilterProps) {
  const res = useApi<Page<LayerItem>>(apiUrl(`/api/v1/images/${seg(imageId)}/layers`, { limit: 500 }));
  const createdBy = res.data?.items.find((l) => l.index === layer)?.createdBy ?? null;
  return (
    <div className="layer-filter" role="status">
      <span>
        Showing only what layer <strong>L{layer}</strong> introduced
        {createdBy !== null && (
          <>
            : <code className="clamp-1">{createdBy}</code>
          </>
        )}
      </span>
      <button type="button" className="button" onClick={onClear}>
        Show all layers
      </button>
    </div>
  );
}
