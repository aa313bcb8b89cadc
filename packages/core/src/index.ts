/** @tally/core: the scanning library. No HTTP server, no process.exit, no console writes. */
export { scanImage, DEFAULT_SCAN_LIMITS, type ScanOptions, type ScanLimits, type ProgressEvent } from './scan.js';
export { sourceForTarget, type TargetOptions } from './image/sources/target.js';
export { parsePlatform, formatPlatform, DEFAULT_PLATFORM, type PlatformSpec } from './image/sources/oci-manifest.js';
export { DirectoryLayerCache, layerCacheKey, type LayerCache } from './cache/layer-cache.js';
export { extractorsFor, OS_EXTRACTORS, LANGUAGE_EXTRACTORS } from './extract/registry.js';
export type { Extractor, ExtractedPackage, FileInput, ExtractContext } from './extract/extractor.js';
export { TallyError, isTallyError, type TallyErrorCode } from './model/errors.js';
export type { Issue } from './model/issue.js';
export type { Image, ImageSource, LayerInfo, Platform, SourceKind, HistoryEntry } from './model/image.js';
export * from './model/package.js';
export * from './model/report.js';
export { TOOL_VERSION } from './tool.js';
export { FORMATTERS } from './report/registry.js';
export type { Formatter, FormatOptions } from './report/formatter.js';
