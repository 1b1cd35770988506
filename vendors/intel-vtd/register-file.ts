import type { VtdHardware } from './hardware.ts';
import * as R from './regs.ts';
import { FRCD_BASE } from './regs.ts';

/** 64-bit registers, which also take 32-bit accesses to either half. */
const WIDE = new Set([
  R.DMAR_RTADDR_REG,
  R.DMAR_IQH_REG,
  R.DMAR_IQT_REG,
  R.DMAR_IQA_REG,
  R.DMAR_IQER_REG,
  R.DMAR_PQH_REG,
  R.DMAR_PQT_REG,
  R.DMAR_PQA_REG,
]);

/**
 * MMIO decode of the VT-d register file: 32-bit and 64-bit accesses by offset, dispatched to
 * the unit that owns each register. Unknown offsets read 0 and ignore writes, as reserved
 * registers do.
 */
export class VtdRegisters {
  #gcmd = 0;
  #gsts = 0;
  #rtaddr = 0n;
  readonly #scratch = new Map<number, number>();

  constructor(private readonly hw: VtdHardware) {}

  read32(off: number): number {
    const hw = this.hw;
    switch (off) {
      case R.DMAR_VER_REG:
        return 0x60;
      case R.DMAR_GCMD_REG:
        return 0;
      case R.DMAR_GSTS_REG:
        return this.#gsts >>> 0;
      case R.DMAR_FSTS_REG:
        return (hw.faults.fsts() | hw.qi.fsts()) >>> 0;
      case R.DMAR_FECTL_REG:
        return hw.faults.fectl >>> 0;
      case R.DMAR_ICS_REG:
        return hw.qi.ics;
      case R.DMAR_IECTL_REG:
        return hw.qi.iectl >>> 0;
      case R.DMAR_PRS_REG:
        return hw.prq.prs;
      case R.DMAR_PECTL_REG:
        return hw.prq.pectl >>> 0;
      default: {
        const frcd = this.#frcd(off);
        if (frcd)
          return Number((hw.faults.read(frcd.index, frcd.upper) >> BigInt(frcd.shift)) & 0xffff_ffffn);
        // Drivers read the low dword of IQH/IQT/PQH/PQT with readl().
        if (WIDE.has(off & ~7))
          return Number((this.read64(off & ~7) >> BigInt((off & 4) * 8)) & 0xffff_ffffn);
        return this.#scratch.get(off) ?? 0;
      }
    }
  }

  read64(off: number): bigint {
    const hw = this.hw;
    switch (off) {
      case R.DMAR_CAP_REG:
        return hw.cap;
      case R.DMAR_ECAP_REG:
        return hw.ecap;
      case R.DMAR_RTADDR_REG:
        return this.#rtaddr;
      case R.DMAR_IQH_REG:
        return hw.qi.iqh;
      case R.DMAR_IQT_REG:
        return hw.qi.iqt;
      case R.DMAR_IQA_REG:
        return hw.qi.iqa;
      case R.DMAR_IQER_REG:
        return hw.qi.iqer;
      case R.DMAR_PQH_REG:
        return BigInt(hw.prq.head);
      case R.DMAR_PQT_REG:
        return BigInt(hw.prq.tail);
      case R.DMAR_PQA_REG:
        return hw.prq.base | BigInt(Math.log2(hw.prq.sizeBytes / 4096));
      default: {
        const frcd = this.#frcd(off);
        if (frcd && frcd.shift === 0) return hw.faults.read(frcd.index, frcd.upper);
        return 0n;
      }
    }
  }

  write32(off: number, value: number): void {
    const hw = this.hw;
    const v = value | 0;
    switch (off) {
      case R.DMAR_GCMD_REG:
        this.#command(v);
        return;
      case R.DMAR_FSTS_REG:
        if (v & R.DMA_FSTS_PFO) hw.faults.clearPfo();
        hw.qi.clearErrors(v & (R.DMA_FSTS_IQE | R.DMA_FSTS_ITE | R.DMA_FSTS_ICE));
        return;
      case R.DMAR_FECTL_REG:
        hw.faults.writeFectl(v);
        return;
      case R.DMAR_ICS_REG:
        hw.qi.writeIcs(v);
        return;
      case R.DMAR_IECTL_REG:
        hw.qi.writeIectl(v);
        return;
      case R.DMAR_PRS_REG:
        hw.prq.writePrs(v);
        return;
      case R.DMAR_PECTL_REG:
        hw.prq.writePectl(v);
        return;
      case R.DMAR_FEDATA_REG:
      case R.DMAR_FEADDR_REG:
      case R.DMAR_FEUADDR_REG:
      case R.DMAR_IEDATA_REG:
      case R.DMAR_IEADDR_REG:
      case R.DMAR_IEUADDR_REG:
      case R.DMAR_PEDATA_REG:
      case R.DMAR_PEADDR_REG:
      case R.DMAR_PEUADDR_REG:
        this.#scratch.set(off, value >>> 0);
        return;
      default: {
        const frcd = this.#frcd(off);
        if (frcd?.upper && frcd.shift === 32) hw.faults.writeUpper(frcd.index, BigInt(value >>> 0) << 32n);
        else if (WIDE.has(off & ~7)) {
          // A writel() to half of a 64-bit register (Linux writes IQT this way).
          const base = off & ~7;
          const cur = this.read64(base);
          const v32 = BigInt(value >>> 0);
          this.write64(base, off & 4 ? (cur & 0xffff_ffffn) | (v32 << 32n) : (cur & ~0xffff_ffffn) | v32);
        }
      }
    }
  }

  write64(off: number, value: bigint): void {
    const hw = this.hw;
    switch (off) {
      case R.DMAR_RTADDR_REG:
        this.#rtaddr = value;
        return;
      case R.DMAR_IQT_REG:
        hw.qi.writeIqt(value);
        return;
      case R.DMAR_IQA_REG:
        hw.qi.writeIqa(value);
        return;
      case R.DMAR_PQH_REG:
        hw.prq.writePqh(value);
        return;
      case R.DMAR_PQA_REG:
        hw.prq.writePqa(value);
        return;
      default: {
        const frcd = this.#frcd(off);
        if (frcd?.upper && frcd.shift === 0) hw.faults.writeUpper(frcd.index, value);
      }
    }
  }

  /** GCMD: SRTP latches RTADDR (one-shot); TE and QIE are levels mirrored in GSTS. */
  #command(v: number): void {
    const hw = this.hw;
    this.#gcmd = v & ~R.DMA_GCMD_SRTP;
    if (v & R.DMA_GCMD_SRTP) {
      hw.translator.rootTable = this.#rtaddr & ~0xfffn;
      hw.translator.ttm = Number((this.#rtaddr >> R.DMA_RTADDR_TTM_SHIFT) & 3n);
      this.#gsts |= R.DMA_GSTS_RTPS;
    }
    const te = (v & R.DMA_GCMD_TE) !== 0;
    hw.translator.enabled = te;
    this.#gsts = te ? this.#gsts | R.DMA_GSTS_TES : this.#gsts & ~R.DMA_GSTS_TES;
    const qie = (v & R.DMA_GCMD_QIE) !== 0;
    hw.qi.setEnabled(qie);
    this.#gsts = qie ? this.#gsts | R.DMA_GSTS_QIES : this.#gsts & ~R.DMA_GSTS_QIES;
  }

  get gcmd(): number {
    return this.#gcmd;
  }

  /** Which FRCD (and which 32/64-bit slice of it) `off` addresses. */
  #frcd(off: number): { index: number; upper: boolean; shift: number } | undefined {
    const rel = off - FRCD_BASE;
    if (rel < 0 || rel >= this.hw.faults.count * 16) return undefined;
    const within = rel % 16;
    return { index: Math.floor(rel / 16), upper: within >= 8, shift: (within % 8) * 8 };
  }
}
