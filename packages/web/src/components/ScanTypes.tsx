/** Scan-type labels: Static (OS packages from the image files), Dynamic (from a running container), SCA (language packages). */
export function ScanTypeBadge({ scanType }: { scanType: string }) {
  const cls = scanType === 'Static' || scanType === 'Dynamic' || scanType === 'SCA' ? scanType : 'other';
  return <span className={`scan scan-${cls}`}>{scanType}</span>;
}

export function ScanTypeList({ scanTypes }: { scanTypes: readonly string[] }) {
  if (scanTypes.length === 0) return <span className="muted">none</span>;
  return (
    <span className="badge-list">
      {scanTypes.map((s) => (
        <ScanTypeBadge key={s} scanType={s} />
      ))}
    </span>
  );
}
