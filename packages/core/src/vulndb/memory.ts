import type { Advisory, EpssEntry, KevEntry, VulnDb } from './model.js';

/** A VulnDb held in memory: for tests and for matching small advisory sets without a database file. */
export class MemoryVulnDb implements VulnDb {
  private readonly byPackage = new Map<string, Advisory[]>();
  private readonly byId = new Map<string, Advisory>();
  private readonly kevs = new Map<string, KevEntry>();
  private readonly epssScores = new Map<string, EpssEntry>();

  constructor(advisories: Iterable<Advisory> = [], extras: { kev?: Iterable<KevEntry>; epss?: Iterable<EpssEntry> } = {}) {
    for (const a of advisories) this.add(a);
    for (const k of extras.kev ?? []) this.kevs.set(k.cve, k);
    for (const e of extras.epss ?? []) this.epssScores.set(e.cve, e);
  }

  add(advisory: Advisory): void {
    this.byId.set(advisory.id, advisory);
    const keys = new Set(advisory.affected.map((a) => `${a.ecosystem}\0${a.package}`));
    for (const key of keys) {
      const list = this.byPackage.get(key) ?? [];
      list.push(advisory);
      this.byPackage.set(key, list);
    }
  }

  affecting(ecosystem: string, packageName: string): readonly Advisory[] {
    return this.byPackage.get(`${ecosystem}\0${packageName}`) ?? [];
  }
  advisory(id: string): Advisory | null {
    return this.byId.get(id) ?? null;
  }
  kev(cve: string): KevEntry | null {
    return this.kevs.get(cve) ?? null;
  }
  epss(cve: string): EpssEntry | null {
    return this.epssScores.get(cve) ?? null;
  }
}
