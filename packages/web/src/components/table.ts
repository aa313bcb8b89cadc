/**
 * The one table-feature registry of the app (TanStack Table v9): sorting state only. Rows arrive already sorted
 * and paged by the server (manualSorting), so no client row model is registered; the table gives us header groups,
 * cells and the sort state machine, and our own markup renders them.
 */
import { createColumnHelper, metaHelper, rowSortingFeature, tableFeatures, type ColumnDef, type RowData } from '@tanstack/react-table';

export interface ColumnMetaInfo {
  /** Extra class on the header and cells (alignment, width). */
  readonly className?: string;
}

export const features = tableFeatures({ rowSortingFeature, columnMeta: metaHelper<ColumnMetaInfo>() });
export type Features = typeof features;
export type Columns<T extends RowData> = ReadonlyArray<ColumnDef<Features, T>>;

export function columnHelper<T extends RowData>() {
  return createColumnHelper<Features, T>();
}
