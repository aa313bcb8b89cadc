/**
 * The node runtime's version from `include/node/node_version.h`, which every official build installs beside the
 * binary (the `node:*` images' `/usr/local/include/node/`, NodeSource's and Debian's `/usr/include/node/`, nvm's
 * `versions/node/vX/include/node/`). Reading a 4 KB header is far cheaper than scanning a 90 MB binary.
 */

export interface NodeRuntime {
  readonly version: string;
  /** `Hydrogen`, `Iron`, ... for LTS lines. */
  readonly ltsCodename: string | null;
}

function define(text: string, name: string): string | null {
  // `#define NODE_MAJOR_VERSION 20` (the header's own layout; no macro expressions)
  const m = new RegExp(`^#\\s*define\\s+${name}\\s+(\\S+)`, 'm').exec(text);
  return m ? m[1]! : null;
}

function number(text: string, name: string): number | null {
  const v = define(text, name);
  return v !== null && /^[0-9]{1,6}$/.test(v) ? Number(v) : null;
}

/** Null when the file is not a node_version.h (no version macros). */
export function parseNodeVersionHeader(text: string): NodeRuntime | null {
  const major = number(text, 'NODE_MAJOR_VERSION');
  const minor = number(text, 'NODE_MINOR_VERSION');
  const patch = number(text, 'NODE_PATCH_VERSION');
  if (major === null || minor === null || patch === null) return null;
  // a development build between releases says so with its "-pre" tag (NODE_TAG in the header)
  const release = number(text, 'NODE_VERSION_IS_RELEASE');
  const lts = number(text, 'NODE_VERSION_IS_LTS') === 1 ? define(text, 'NODE_VERSION_LTS_CODENAME') : null;
  const codename = lts !== null && /^"[A-Za-z]{1,32}"$/.test(lts) ? lts.slice(1, -1) : null;
  return { version: `${major}.${minor}.${patch}${release === 0 ? '-pre' : ''}`, ltsCodename: codename };
}
