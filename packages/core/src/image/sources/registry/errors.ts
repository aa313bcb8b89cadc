import { TallyError, type TallyErrorCode } from '../../../model/errors.js';

/**
 * Why a registry operation failed, finer than the TallyError code: a sensor decides from it whether to retry an
 * image later (timeout, network, rate-limit) or to report it as broken (digest, too-large, protocol).
 */
export type RegistryErrorKind =
  | 'timeout' // no answer within the request timeout
  | 'network' // connection refused, reset, unknown host
  | 'tls' // handshake failed: untrusted certificate, wrong name, or the server does not speak TLS
  | 'auth' // 401/403, or the token endpoint refused
  | 'rate-limit' // 429 after the allowed retries, or a Retry-After longer than we wait
  | 'redirect' // too many redirects, a redirect loop, a downgrade to plain HTTP
  | 'too-large' // a document over its size limit
  | 'not-found'
  | 'protocol' // an answer that does not follow the distribution spec
  | 'http'; // any other unexpected status

/** A TallyError (so the CLI and callers treat it like any scan error) that also says what kind of failure it was. */
export class RegistryError extends TallyError {
  readonly kind: RegistryErrorKind;
  readonly status: number | null;
  constructor(code: TallyErrorCode, kind: RegistryErrorKind, message: string, options?: { status?: number; cause?: unknown }) {
    super(code, message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RegistryError';
    this.kind = kind;
    this.status = options?.status ?? null;
  }
}

export function isRegistryError(err: unknown): err is RegistryError {
  return err instanceof RegistryError;
}
