import type { Extractor } from './extractor.js';
import { apkExtractor } from './os/apk/index.js';
import { dpkgExtractor } from './os/dpkg/index.js';
import { dotnetExtractor } from './lang/dotnet/index.js';
import { goBinaryExtractor } from './lang/go-binary/index.js';
import { javaArchiveExtractor } from './lang/java-archive/index.js';
import { nodeExtractor } from './lang/node/index.js';
import { pythonDistExtractor } from './lang/python-dist/index.js';
import { rpmExtractor } from './os/rpm/index.js';

/**
 * Every extractor, explicitly (no import side effects). registry.test.ts keeps this list equal to the folders
 * under os/ and lang/. Adding an ecosystem is one folder plus one line here.
 */
export const OS_EXTRACTORS: readonly Extractor[] = [dpkgExtractor, apkExtractor, rpmExtractor];
export const LANGUAGE_EXTRACTORS: readonly Extractor[] = [dotnetExtractor, goBinaryExtractor, javaArchiveExtractor, nodeExtractor, pythonDistExtractor];

/** The extractors a scan runs: OS ones always (Static scan), language ones only for `--perform-sca-scan`. */
export function extractorsFor(options: { readonly performScaScan: boolean }): readonly Extractor[] {
  return options.performScaScan ? [...OS_EXTRACTORS, ...LANGUAGE_EXTRACTORS] : OS_EXTRACTORS;
}
