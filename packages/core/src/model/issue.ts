/**
 * Something the scan could not read. The scan goes on; the user is told (report `issues`).
 * `layer` is null for image-level problems (a config that does not parse, an unresolved symlink at merge time).
 */
export interface Issue {
  readonly layer: number | null;
  readonly path: string | null;
  readonly extractor: string | null;
  readonly message: string;
}

/** An issue recorded while analysing one layer: the layer index is filled in at merge time (layers are shared). */
export type LayerIssue = Omit<Issue, 'layer'>;

export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
