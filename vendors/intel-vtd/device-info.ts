import type { PhysMemory } from '../../actors/mem/phys-memory.ts';
import type { DeviceRef, Domain } from '../driver.ts';
import {
  CONTEXT_ENTRY_SIZE,
  decodePasid,
  decodePasidDir,
  encodeContext,
  encodePasid,
  encodePasidDir,
  PASID_DIR_ENTRY_SIZE,
  PASID_ENTRY_SIZE,
  PASID_PDE_SHIFT,
  type PasidEntry,
  ROOT_ENTRY_SIZE,
} from './entries.ts';

/**
 * `struct device_domain_info`: what the driver knows about one device behind this unit, with
 * its PASID table (directory + lazily allocated leaf tables) in memory.
 */
export class DeviceInfo {
  readonly sid: number;
  /** PF SID for dev-TLB throttling (DIT); a PF is its own. */
  readonly pfsid: number;
  readonly atsSupported: boolean;
  readonly pasidSupported: boolean;
  readonly priSupported: boolean;
  readonly atsQdep = 32;
  /** Domains this device is attached to, by PASID (IOMMU_NO_PASID = 0 is the RID). */
  readonly domains = new Map<number, Domain>();
  readonly dirPa: bigint;
  /** `pasid_table->max_pasid`. */
  readonly maxPasid: number;
  readonly #leafTables: bigint[] = [];

  constructor(
    private readonly phys: PhysMemory,
    readonly dev: DeviceRef,
    caps: { dt: boolean; pasid: boolean; prs: boolean; pasidMax: number },
  ) {
    this.sid = dev.rid;
    this.pfsid = dev.rid;
    this.atsSupported = caps.dt && dev.ats;
    this.pasidSupported = caps.pasid && dev.pasidBits > 0;
    this.priSupported = this.atsSupported && caps.prs && dev.pri;
    // intel_pasid_alloc_table: 8-byte directory entries, each covering 64 PASIDs.
    const maxPasid = this.pasidSupported ? Math.min(2 ** dev.pasidBits, caps.pasidMax) : 0;
    const size = maxPasid >> (PASID_PDE_SHIFT - 3);
    const order = size ? Math.max(0, Math.ceil(Math.log2(size / 4096))) : 0;
    phys.failNth.point('table', 'vtd.pasid_dir');
    this.dirPa = phys.allocContiguous(1 << order, 1 << order) << 12n;
    this.maxPasid = 2 ** (order + 12 + 3);
  }

  /** `intel_pasid_free_table`: for a probe that failed after the directory was allocated. */
  freePasidTable(): void {
    const pages = Number(BigInt(this.maxPasid) >> BigInt(12 + 3));
    for (let i = 0; i < pages; i++) this.phys.put((this.dirPa >> 12n) + BigInt(i));
    for (const pa of this.#leafTables.splice(0)) this.phys.put(pa >> 12n);
  }

  /** `context_get_sm_pds`: directory size as PDTS (2^(PDTS+7) entries). */
  get pds(): number {
    const maxPde = this.maxPasid >> PASID_PDE_SHIFT;
    const bit = Math.log2(maxPde);
    return bit < 7 ? 0 : bit - 7;
  }

  /** `intel_pasid_get_entry`: the entry's PA, allocating its PASID table page on first use. */
  entryPa(pasid: number): bigint | undefined {
    if (pasid >= this.maxPasid) return undefined;
    const dirEntryPa = this.dirPa + BigInt((pasid >> PASID_PDE_SHIFT) * PASID_DIR_ENTRY_SIZE);
    let pde = decodePasidDir(this.phys.readU64(dirEntryPa));
    if (!pde.p) {
      this.phys.failNth.point('table', 'vtd.pasid_table');
      const table = this.phys.allocPage() << 12n;
      this.#leafTables.push(table);
      this.phys.writeU64(dirEntryPa, encodePasidDir({ p: true, fpd: false, ptp: table }));
      pde = { p: true, fpd: false, ptp: table };
    }
    return pde.ptp + BigInt((pasid & ((1 << PASID_PDE_SHIFT) - 1)) * PASID_ENTRY_SIZE);
  }

  readEntry(pasid: number): PasidEntry | undefined {
    const at = this.entryPa(pasid);
    if (at === undefined) return undefined;
    const words: bigint[] = [];
    for (let i = 0; i < 8; i++) words.push(this.phys.readU64(at + BigInt(i * 8)));
    return decodePasid(words);
  }

  /** Writes a present entry with the present word (val[0]) last. */
  writeEntry(pasid: number, e: PasidEntry): void {
    const at = this.entryPa(pasid)!;
    const words = encodePasid(e);
    for (let i = 7; i >= 0; i--) this.phys.writeU64(at + BigInt(i * 8), words[i]!);
  }

  /** Clears an entry, present word first; `keepFpd` leaves FPD set (`pasid_clear_entry_with_fpd`). */
  clearEntry(pasid: number, keepFpd = false): void {
    const at = this.entryPa(pasid)!;
    this.phys.writeU64(at, keepFpd ? 2n : 0n);
    for (let i = 1; i < 8; i++) this.phys.writeU64(at + BigInt(i * 8), 0n);
  }

  /**
   * `context_entry_set_pasid_table`: points the scalable context entry at the PASID directory,
   * RID_PASID 0, DTE/PASIDE/PRE as the device supports, FPD clear, present. The root entry's
   * context table is allocated on first use (`iommu_context_addr`).
   */
  installContext(rootTable: bigint, contextTables: Map<number, bigint>): void {
    const bus = this.sid >> 8;
    const devfn = this.sid & 0xff;
    const upper = devfn >= 128;
    const key = bus * 2 + (upper ? 1 : 0);
    let table = contextTables.get(key);
    if (table === undefined) {
      this.phys.failNth.point('table', 'vtd.context_table');
      table = this.phys.allocPage() << 12n;
      contextTables.set(key, table);
      const rootPa = rootTable + BigInt(bus * ROOT_ENTRY_SIZE) + (upper ? 8n : 0n);
      this.phys.writeU64(rootPa, table | 1n);
    }
    const words = encodeContext({
      p: true,
      fpd: false,
      dte: this.atsSupported,
      paside: this.pasidSupported,
      pre: this.priSupported,
      pdts: this.pds,
      pasidDirPtr: this.dirPa,
      ridPasid: 0,
      ridPriv: false,
    });
    const at = table + BigInt((devfn & 0x7f) * CONTEXT_ENTRY_SIZE);
    for (let i = 3; i >= 0; i--) this.phys.writeU64(at + BigInt(i * 8), words[i]!);
  }
}
