import { fileBytes, MiB, type FileExtractor } from '../../extractor.js';
import { nuspecOfNupkg } from './nupkg.js';
import { parseDotnetFile, type ParseResult } from './parse.js';
import { dotnetFileKind } from './paths.js';
import { parseNuspec } from './xml.js';

/**
 * .NET / NuGet: app manifests (`*.deps.json`, including the runtime bundled by self-contained apps), the shared
 * frameworks of a .NET installation (`dotnet/shared/<Framework>/<version>/`), lock files and manifests
 * (`packages.lock.json`, `packages.config`), and package metadata (`*.nuspec`, and `*.nupkg` outside the
 * global packages folder, where the extracted nuspec beside it is read instead).
 */
export const dotnetExtractor: FileExtractor = {
  name: 'lang/dotnet',
  version: 1,
  scanType: 'SCA',
  input: 'file',
  // deps.json of big apps and SDK tools run to a few MiB; nupkgs are read through their central directory only
  maxFileSize: 64 * MiB,
  required: (path) => dotnetFileKind(path) !== null,
  async extract(file, ctx) {
    const kind = dotnetFileKind(file.path);
    if (kind === null) return { packages: [] };
    let result: ParseResult;
    if (kind === 'nupkg') {
      const source = file.content.kind === 'buffer' ? file.content.data : file.content.path;
      result = parseNuspec((await nuspecOfNupkg(source)).text, 'nupkg');
    } else {
      result = parseDotnetFile(kind, file.path, await fileBytes(file));
    }
    for (const p of result.problems) ctx.issue(p);
    return { packages: result.packages };
  },
};
