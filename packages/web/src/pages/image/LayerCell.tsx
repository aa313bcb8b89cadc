/** A layer reference in a table cell: its index as a button that selects the layer, and what created it. */
import type { LayerRef } from '../../api/types';

export function LayerCell({ layer, onSelect }: { layer: LayerRef; onSelect: (index: number) => void }) {
  return (
    <span className="layer-cell">
      <button type="button" className="link-button" onClick={() => onSelect(layer.index)} aria-label={`Show only layer ${layer.index}`}>
        L{layer.index}
      </button>
      {layer.createdBy !== null && (
        <span className="muted layer-created-by" title={layer.createdBy}>
          {layer.createdBy}
        </span>
      )}
    </span>
  );
}
