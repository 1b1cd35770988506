import { EventFd } from '../../actors/runtime/eventfd.ts';
import { DMA_CTL_IM, DMA_CTL_IP, DMA_FSTS_PFO, DMA_FSTS_PPF } from './regs.ts';

/** One non-recoverable fault as the hardware records it. */
export interface PrimaryFault {
  readonly fr: number;
  readonly sid: number;
  readonly pasid: number | undefined;
  readonly addr: bigint;
  readonly write: boolean;
}

/** FRCD upper qword: SID 15:0, PP 31, FR 39:32, PV 59:40, T 62 (1 = read), F 63. */
export const FRCD_F = 1n << 63n;
const FRCD_T = 1n << 62n;
const FRCD_PP = 1n << 31n;

export function encodeFrcd(f: PrimaryFault): [bigint, bigint] {
  const lo = f.addr & ~0xfffn & 0xffff_ffff_ffff_ffffn;
  let hi = BigInt(f.sid & 0xffff) | (BigInt(f.fr & 0xff) << 32n) | FRCD_F;
  if (f.pasid !== undefined) hi |= FRCD_PP | (BigInt(f.pasid & 0xfffff) << 40n);
  if (!f.write) hi |= FRCD_T;
  return [lo, hi];
}

export function decodeFrcd(lo: bigint, hi: bigint): PrimaryFault & { readonly f: boolean } {
  const pp = (hi & FRCD_PP) !== 0n;
  return {
    f: (hi & FRCD_F) !== 0n,
    fr: Number((hi >> 32n) & 0xffn),
    sid: Number(hi & 0xffffn),
    pasid: pp ? Number((hi >> 40n) & 0xfffffn) : undefined,
    addr: lo & ~0xfffn,
    write: (hi & FRCD_T) === 0n,
  };
}

/**
 * The fault recording registers (128 bits each) with FSTS.PFO/PPF/FRI and the fault event
 * interrupt (FECTL/FEDATA/FEADDR). Hardware fills them round robin; a fault whose next
 * register still has F set is dropped and sets PFO. Software clears F by writing it as 1.
 */
export class FaultRecorder {
  readonly #lo: bigint[];
  readonly #hi: bigint[];
  #next = 0;
  #fri = 0;
  #pfo = false;
  #fectl = DMA_CTL_IM;
  /** The fault event MSI, as an eventfd. */
  readonly irq: EventFd;
  recorded = 0;
  dropped = 0;

  constructor(
    readonly count: number,
    defer: (fn: () => void) => void,
    name: string,
  ) {
    this.#lo = new Array<bigint>(count).fill(0n);
    this.#hi = new Array<bigint>(count).fill(0n);
    this.irq = new EventFd(`${name}/fault-event`, defer);
  }

  get ppf(): boolean {
    return this.#hi.some((h) => (h & FRCD_F) !== 0n);
  }

  /** FSTS bits this unit owns: PFO, PPF and FRI. */
  fsts(): number {
    return (this.#pfo ? DMA_FSTS_PFO : 0) | (this.ppf ? DMA_FSTS_PPF : 0) | (this.#fri << 8);
  }

  clearPfo(): void {
    this.#pfo = false;
  }

  /** Records `f`; returns the register index, or -1 when it overflowed. */
  record(f: PrimaryFault): number {
    const i = this.#next;
    if ((this.#hi[i]! & FRCD_F) !== 0n) {
      this.dropped++;
      if (!this.#pfo) {
        this.#pfo = true;
        this.#event();
      }
      return -1;
    }
    const hadPending = this.ppf;
    [this.#lo[i], this.#hi[i]] = encodeFrcd(f);
    this.#next = (i + 1) % this.count;
    this.recorded++;
    if (!hadPending) {
      this.#fri = i;
      this.#event();
    }
    return i;
  }

  /** 64-bit read of FRCD `index`, `upper` selecting bits 127:64. */
  read(index: number, upper: boolean): bigint {
    return (upper ? this.#hi[index] : this.#lo[index]) ?? 0n;
  }

  /** A write to the upper qword: F is write-1-to-clear, the rest read-only. */
  writeUpper(index: number, value: bigint): void {
    if (index < 0 || index >= this.count) return;
    if (value & FRCD_F) this.#hi[index] = this.#hi[index]! & ~FRCD_F;
  }

  get fectl(): number {
    return this.#fectl;
  }

  writeFectl(value: number): void {
    const wasMasked = (this.#fectl & DMA_CTL_IM) !== 0;
    this.#fectl = (this.#fectl & DMA_CTL_IP) | (value & DMA_CTL_IM);
    if (wasMasked && !(value & DMA_CTL_IM) && this.#fectl & DMA_CTL_IP) this.#deliver();
  }

  #event(): void {
    if (this.#fectl & DMA_CTL_IM) this.#fectl |= DMA_CTL_IP;
    else this.#deliver();
  }

  #deliver(): void {
    this.#fectl &= ~DMA_CTL_IP;
    this.irq.write(1n);
  }
}
