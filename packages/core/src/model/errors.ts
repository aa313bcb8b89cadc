/**
 * Fatal scan errors. Callers branch on `code`, never on the message.
 * The CLI maps every code to exit status 2 and prints `tally: <message>` (see docs/cli.md).
 */
export type TallyErrorCode =
  | 'TARGET_NOT_FOUND' // the path or reference does not exist
  | 'TARGET_UNREADABLE' // exists but cannot be read (permissions, not a file/directory)
  | 'UNKNOWN_FORMAT' // the bytes are not any image format Tally reads
  | 'IMAGE_NOT_FOUND' // the archive or layout has no image matching the tag, digest or platform
  | 'INVALID_IMAGE' // manifest, index or config is malformed
  | 'MISSING_BLOB' // a manifest points at a blob that is not there
  | 'DIGEST_MISMATCH' // a blob or an uncompressed layer does not hash to its declared digest
  | 'UNSUPPORTED_MEDIA_TYPE' // a layer compression or manifest type Tally does not read
  | 'LAYER_UNREADABLE' // a layer stream failed (truncated, corrupt compression)
  | 'USAGE' // bad options
  | 'ABORTED';

export class TallyError extends Error {
  readonly code: TallyErrorCode;
  constructor(code: TallyErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TallyError';
    this.code = code;
  }
}

export function isTallyError(err: unknown): err is TallyError {
  return err instanceof TallyError;
}
