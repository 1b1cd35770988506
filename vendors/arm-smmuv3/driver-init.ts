import { CMDQ_CFGI_RANGE_ALL, CMDQ_OP_CFGI_ALL, CMDQ_OP_TLBI_EL2_ALL, CMDQ_OP_TLBI_NSNH_ALL } from './cmd.ts';
import type { Smmuv3Driver } from './driver.ts';
import * as R from './regs.ts';

/**
 * `arm_smmu_device_reset`: disable, program the stream table and CMDQ, enable the CMDQ and
 * flush every cached configuration and TLB entry, then the EVTQ/PRIQ, interrupts and SMMUEN.
 */
export async function initSmmu(drv: Smmuv3Driver): Promise<void> {
  const hw = drv.hw;
  const f = drv.features;
  hw.write32(R.ARM_SMMU_CR0, 0);
  hw.write32(R.ARM_SMMU_CR1, 0);
  hw.write32(R.ARM_SMMU_CR2, R.CR2_PTM | R.CR2_RECINVSID);
  hw.write64(R.ARM_SMMU_STRTAB_BASE, drv.strtab.baseReg);
  hw.write32(R.ARM_SMMU_STRTAB_BASE_CFG, drv.strtab.cfgReg);
  hw.write64(R.ARM_SMMU_CMDQ_BASE, R.Q_BASE_RWA | drv.cmdq.base | BigInt(drv.cmdq.log2));
  hw.write32(R.ARM_SMMU_CMDQ_PROD, 0);
  let enables = R.CR0_CMDQEN;
  hw.write32(R.ARM_SMMU_CR0, enables);
  await drv.cmdq.issue([{ op: CMDQ_OP_CFGI_ALL, sid: 0, range: CMDQ_CFGI_RANGE_ALL }], true);
  if (f.hyp) await drv.cmdq.issue([{ op: CMDQ_OP_TLBI_EL2_ALL }], true);
  await drv.cmdq.issue([{ op: CMDQ_OP_TLBI_NSNH_ALL }], true);
  const evtq = drv.irqs.evtq;
  hw.write64(R.ARM_SMMU_EVTQ_BASE, R.Q_BASE_RWA | evtq.base | BigInt(evtq.log2));
  hw.write32(R.ARM_SMMU_EVTQ_CONS, 0);
  enables |= R.CR0_EVTQEN;
  hw.write32(R.ARM_SMMU_CR0, enables);
  const priq = drv.irqs.priq;
  if (priq) {
    hw.write64(R.ARM_SMMU_PRIQ_BASE, R.Q_BASE_RWA | priq.base | BigInt(priq.log2));
    hw.write32(R.ARM_SMMU_PRIQ_CONS, 0);
    enables |= R.CR0_PRIQEN;
    hw.write32(R.ARM_SMMU_CR0, enables);
  }
  if (f.ats) {
    enables |= R.CR0_ATSCHK;
    hw.write32(R.ARM_SMMU_CR0, enables);
  }
  hw.write32(
    R.ARM_SMMU_IRQ_CTRL,
    R.IRQ_CTRL_GERROR_IRQEN | R.IRQ_CTRL_EVTQ_IRQEN | (priq ? R.IRQ_CTRL_PRIQ_IRQEN : 0),
  );
  enables |= R.CR0_SMMUEN;
  hw.write32(R.ARM_SMMU_CR0, enables);
}
