/**
 * Image references as Docker names them: `[HOST[:PORT]/]REPO[:TAG][@DIGEST]`. The first path component is a
 * registry host only when it looks like one (a dot, a port, or `localhost`); otherwise the name is on Docker Hub,
 * whose one-component names live under `library/`.
 */
import { TallyError } from '../../../model/errors.js';
import { isDigest } from '../../config.js';

export const DOCKER_HUB = 'docker.io';
/** Where Docker Hub's distribution API actually answers. */
const DOCKER_HUB_ENDPOINT = 'registry-1.docker.io';

export interface ImageReference {
  /** Canonical registry name: `docker.io`, `reg.example:5000`, `127.0.0.1:5000`, `[::1]:5000`. */
  readonly registry: string;
  /** Repository path in the registry: `library/alpine`, `team/app`. */
  readonly repository: string;
  readonly tag: string | null;
  readonly digest: string | null;
}

// distribution/reference grammar: lower-case components joined by '.', '_', '__' or runs of '-'
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const HOST = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*)(?::[0-9]{1,5})?$/;

function looksLikeHost(component: string): boolean {
  return component.includes('.') || component.includes(':') || component === 'localhost' || component !== component.toLowerCase();
}

export function isValidRepository(repository: string): boolean {
  return repository.length <= 255 && repository.split('/').every((c) => COMPONENT.test(c));
}

export function isValidTag(tag: string): boolean {
  return TAG.test(tag);
}

/** Parse a reference; neither tag nor digest means `:latest`. */
export function parseImageReference(text: string): ImageReference {
  const bad = (why: string): TallyError => new TallyError('USAGE', `${JSON.stringify(text)}: not an image reference (${why}); expected HOST[:PORT]/REPO[:TAG|@DIGEST]`);
  let rest = text.trim();
  if (rest === '') throw bad('empty');
  if (/^[a-z]+:\/\//.test(rest)) throw bad('give the registry host without a URL scheme');
  let digest: string | null = null;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isDigest(digest)) throw bad(`${JSON.stringify(digest.slice(0, 80))} is not a sha256 digest`);
  }
  let tag: string | null = null;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.indexOf(':', lastSlash + 1);
  if (colon >= 0) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad(`invalid tag ${JSON.stringify(tag)}`);
  }
  const slash = rest.indexOf('/');
  let registry = DOCKER_HUB;
  let repository = rest;
  if (slash >= 0 && looksLikeHost(rest.slice(0, slash))) {
    registry = rest.slice(0, slash);
    repository = rest.slice(slash + 1);
    if (!HOST.test(registry)) throw bad(`invalid registry host ${JSON.stringify(registry)}`);
  }
  if (registry === 'index.docker.io' || registry === DOCKER_HUB_ENDPOINT) registry = DOCKER_HUB;
  if (repository === '') throw bad('no repository');
  for (const c of repository.split('/')) if (!COMPONENT.test(c)) throw bad(`invalid repository component ${JSON.stringify(c)}`);
  if (registry === DOCKER_HUB && !repository.includes('/')) repository = `library/${repository}`;
  if (tag === null && digest === null) tag = 'latest';
  return { registry, repository, tag, digest };
}

/** The host[:port] the distribution API is reached at. */
export function registryEndpoint(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_ENDPOINT : registry;
}

/** `registry/repository`: the name repoTags and repoDigests are made of. */
export function repositoryName(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}`;
}

/** Canonical text: `registry/repo:tag@digest` with whichever parts are present. */
export function formatReference(ref: ImageReference): string {
  return repositoryName(ref) + (ref.tag !== null ? `:${ref.tag}` : '') + (ref.digest !== null ? `@${ref.digest}` : '');
}

/** Loopback hosts: traffic never leaves the machine, so Docker's default of trying plain HTTP there is safe. */
export function isLoopbackRegistry(registry: string): boolean {
  const host = registry.replace(/:[0-9]+$/, '').replace(/^\[(.*)\]$/, '$1');
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
