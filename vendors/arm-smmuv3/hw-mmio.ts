import type { Smmuv3Hardware } from './hardware.ts';
import * as R from './regs.ts';

/** 32-bit register reads (page 0 and page 1). */
export function mmioRead32(hw: Smmuv3Hardware, off: number): number {
  const idr = hw.idRegs.idr;
  switch (off) {
    case R.ARM_SMMU_IDR0:
    case R.ARM_SMMU_IDR1:
    case R.ARM_SMMU_IDR2:
    case R.ARM_SMMU_IDR3:
    case R.ARM_SMMU_IDR4:
    case R.ARM_SMMU_IDR5:
      return idr[off / 4]!;
    case R.ARM_SMMU_IIDR:
      return hw.idRegs.iidr;
    case R.ARM_SMMU_AIDR:
      return hw.idRegs.aidr;
    case R.ARM_SMMU_CR0:
      return hw.cr0;
    case R.ARM_SMMU_CR0ACK:
      return hw.cr0ack;
    case R.ARM_SMMU_CR1:
      return hw.cr1;
    case R.ARM_SMMU_CR2:
      return hw.cr2;
    case R.ARM_SMMU_GBPA:
      return hw.gbpa;
    case R.ARM_SMMU_IRQ_CTRL:
    case R.ARM_SMMU_IRQ_CTRLACK:
      return hw.irqCtrl;
    case R.ARM_SMMU_GERROR:
      return hw.gerror;
    case R.ARM_SMMU_GERRORN:
      return hw.gerrorn;
    case R.ARM_SMMU_STRTAB_BASE_CFG:
      return hw.strtabBaseCfg;
    case R.ARM_SMMU_CMDQ_PROD:
      return hw.cmdq.prod;
    case R.ARM_SMMU_CMDQ_CONS:
      return hw.cmdq.cons;
    case R.ARM_SMMU_EVTQ_PROD:
      return hw.evtq.prod;
    case R.ARM_SMMU_EVTQ_CONS:
      return hw.evtq.cons;
    case R.ARM_SMMU_PRIQ_PROD:
      return hw.priq.prod;
    case R.ARM_SMMU_PRIQ_CONS:
      return hw.priq.cons;
    default:
      return 0;
  }
}

export function mmioWrite32(hw: Smmuv3Hardware, off: number, value: number): void {
  const v = value >>> 0;
  switch (off) {
    case R.ARM_SMMU_CR0:
      hw.writeCr0(v);
      return;
    case R.ARM_SMMU_CR1:
      hw.cr1 = v;
      return;
    case R.ARM_SMMU_CR2:
      hw.cr2 = v;
      return;
    case R.ARM_SMMU_GBPA:
      // GBPA takes effect through its UPDATE handshake, which completes at once here.
      if (v & R.GBPA_UPDATE) hw.gbpa = (v & ~R.GBPA_UPDATE) >>> 0;
      return;
    case R.ARM_SMMU_IRQ_CTRL:
      hw.irqCtrl = v;
      hw.evtq.irqEnabled = (v & R.IRQ_CTRL_EVTQ_IRQEN) !== 0;
      hw.priq.irqEnabled = (v & R.IRQ_CTRL_PRIQ_IRQEN) !== 0;
      return;
    case R.ARM_SMMU_GERRORN:
      hw.writeGerrorn(v);
      return;
    case R.ARM_SMMU_STRTAB_BASE_CFG:
      hw.strtabBaseCfg = v;
      return;
    case R.ARM_SMMU_CMDQ_PROD:
      hw.cmdq.writeProd(v);
      return;
    case R.ARM_SMMU_EVTQ_CONS:
      hw.evtq.cons = v;
      return;
    case R.ARM_SMMU_PRIQ_CONS:
      hw.priq.cons = v;
      return;
    default:
      return; // read-only or unimplemented: writes are ignored
  }
}

export function mmioRead64(hw: Smmuv3Hardware, off: number): bigint {
  switch (off) {
    case R.ARM_SMMU_STRTAB_BASE:
      return hw.strtabBase;
    case R.ARM_SMMU_CMDQ_BASE:
      return hw.cmdq.baseReg;
    case R.ARM_SMMU_EVTQ_BASE:
      return hw.evtq.baseReg;
    case R.ARM_SMMU_PRIQ_BASE:
      return hw.priq.baseReg;
    default:
      return hw.irqCfg.get(off) ?? 0n;
  }
}

export function mmioWrite64(hw: Smmuv3Hardware, off: number, v: bigint): void {
  switch (off) {
    case R.ARM_SMMU_STRTAB_BASE:
      hw.strtabBase = v & (R.STRTAB_BASE_ADDR_MASK | R.STRTAB_BASE_RA);
      return;
    case R.ARM_SMMU_CMDQ_BASE:
      hw.cmdq.writeBase(v);
      return;
    case R.ARM_SMMU_EVTQ_BASE:
      hw.evtq.writeBase(v);
      return;
    case R.ARM_SMMU_PRIQ_BASE:
      hw.priq.writeBase(v);
      return;
    case R.ARM_SMMU_GERROR_IRQ_CFG0:
    case R.ARM_SMMU_EVTQ_IRQ_CFG0:
    case R.ARM_SMMU_PRIQ_IRQ_CFG0:
      hw.irqCfg.set(off, v);
      return;
    default:
      return;
  }
}
