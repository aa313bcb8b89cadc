import type { Readable } from 'node:stream';
import type { Evidence, PackageType, SourcePackage } from '../model/package.js';

/** The file an extractor asked for. Small files are held in memory, big ones spilled to a scan-scoped temp file. */
export interface FileInput {
  /** Absolute, normalised path inside the image ("/var/lib/dpkg/status"). */
  readonly path: string;
  readonly size: number;
  /** File type bits | permission bits, as in `stat.st_mode`. */
  readonly mode: number;
  readonly content: FileContent;
}

export type FileContent =
  | { readonly kind: 'buffer'; readonly data: Buffer }
  | { readonly kind: 'file'; readonly path: string };

export interface ExtractContext {
  /** Scan-scoped temp directory, removed when the scan ends; extractors write only here. */
  readonly tempDir: string;
  readonly signal: AbortSignal;
  /**
   * True for paths some enabled language extractor would read. OS extractors use it to keep only those lines of
   * their file lists, so language packages can name the OS package that owns them without holding every path.
   * Null when no language extractor runs.
   */
  readonly isLanguageArtifact: ((path: string) => boolean) | null;
  /** Record a problem with this file (or a member of it, e.g. a nested jar) without failing the scan. */
  issue(message: string, member?: string): void;
}

/** A package as one extractor saw it in one file; the applier adds layer, location, purl and id. */
export interface ExtractedPackage {
  readonly type: PackageType;
  readonly name: string;
  readonly version: string;
  readonly evidence: Evidence;
  readonly arch?: string;
  readonly source?: SourcePackage;
  readonly licenses?: readonly string[];
  readonly vendor?: string;
  /** Java: pom.properties | manifest | filename; Go: buildinfo | ldflags | vcs; ... */
  readonly identifiedBy?: string;
  /** Path chain inside the file for nested artifacts: ["BOOT-INF/lib/x.jar"] → "/app.jar!/BOOT-INF/lib/x.jar". */
  readonly nested?: readonly string[];
  /** Extra purl qualifiers (rpm `epoch`, ...). */
  readonly qualifiers?: Readonly<Record<string, string>>;
  readonly metadata?: Readonly<Record<string, string>>;
}

/** Which language artifacts an OS package owns (only paths `isLanguageArtifact` accepted). */
export interface FileOwnership {
  readonly packageName: string;
  readonly files: readonly string[];
}

export interface ExtractOutput {
  readonly packages: readonly ExtractedPackage[];
  readonly ownership?: readonly FileOwnership[];
}

interface ExtractorBase {
  /** Stable id for logs, config and cache keys: "os/dpkg", "lang/java-archive". */
  readonly name: string;
  /** Bump when the output changes: cached layer results keyed on the old version are ignored. */
  readonly version: number;
  readonly scanType: 'Static' | 'SCA';
  /** Bigger files are skipped with an issue. */
  readonly maxFileSize: number;
  /** Runs for every tar entry of every layer: string compares only, no I/O, no regex. */
  required(path: string, mode: number): boolean;
  /**
   * OS extractors only: files that list what each package owns (dpkg `info/*.list`). Offered only when language
   * extractors run, so a Static scan does not pay for them. Same rules as `required()`.
   */
  ownershipRequired?(path: string): boolean;
  /**
   * Of several files of this extractor in the merged image, the one whose packages count, when a program reads only
   * one of them (rpm reads one database backend); the others are reported as ignored, with `reason`. Without it,
   * every file counts.
   */
  choose?(paths: readonly string[]): { readonly keep: string; readonly reason: string };
}

/** Gets the whole file (in memory, or spilled to a temp file when big). */
export interface FileExtractor extends ExtractorBase {
  readonly input: 'file';
  extract(file: FileInput, ctx: ExtractContext): Promise<ExtractOutput>;
}

/**
 * Reads the file as it streams past, once, without the runner buffering it: for inputs that are many and big
 * but whose useful part is small or near the start (executables scanned for Go build info). The extractor may
 * stop reading early; the runner drains the rest.
 */
export interface StreamExtractor extends ExtractorBase {
  readonly input: 'stream';
  extractStream(stream: Readable, file: FileInfo, ctx: ExtractContext): Promise<ExtractOutput>;
}

export type Extractor = FileExtractor | StreamExtractor;

export type FileInfo = Omit<FileInput, 'content'>;

export const S_IFMT = 0o170000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
export const S_IFDIR = 0o040000;

export function isRegularFile(mode: number): boolean {
  return (mode & S_IFMT) === S_IFREG;
}

export function isExecutable(mode: number): boolean {
  return (mode & 0o111) !== 0;
}

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

/** The whole file as bytes (reads a spilled temp file back; extractors with big inputs should stream instead). */
export async function fileBytes(file: FileInput): Promise<Buffer> {
  if (file.content.kind === 'buffer') return file.content.data;
  const { readFile } = await import('node:fs/promises');
  return readFile(file.content.path);
}

export async function fileText(file: FileInput): Promise<string> {
  return (await fileBytes(file)).toString('utf8');
}
