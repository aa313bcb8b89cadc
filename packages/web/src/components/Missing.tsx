/** A cell or field whose value the API does not have. */
export function Missing() {
  return (
    <span className="muted" aria-label="none">
      —
    </span>
  );
}
