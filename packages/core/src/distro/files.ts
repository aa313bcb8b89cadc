/** Files the distro detector reads, captured during the layer pass (they are tiny). */
export const DISTRO_FILES: ReadonlySet<string> = new Set([
  '/etc/os-release',
  '/usr/lib/os-release',
  '/etc/lsb-release',
  '/etc/debian_version',
  '/etc/alpine-release',
  '/etc/redhat-release',
  '/etc/centos-release',
  '/etc/fedora-release',
  '/etc/rocky-release',
  '/etc/almalinux-release',
  '/etc/oracle-release',
  '/etc/system-release',
  '/etc/SuSE-release',
  '/etc/photon-release',
]);

export const DISTRO_FILE_MAX_SIZE = 64 * 1024;

export function isDistroFile(path: string): boolean {
  return DISTRO_FILES.has(path);
}
