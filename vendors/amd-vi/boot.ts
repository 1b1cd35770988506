import type { PhysMemory } from '../../actors/mem/phys-memory.ts';
import type { Scheduler } from '../../actors/runtime/scheduler.ts';
import { DTE_SIZE, DTE_TV, DTE_V } from './dte.ts';
import type { AmdViHardware } from './hardware.ts';
import { CmdIssuer } from './issuer.ts';
import * as R from './regs.ts';

/** Where the driver put the IOMMU's structures. */
export interface BootLayout {
  readonly devTable: bigint;
  readonly issuer: CmdIssuer;
  readonly eventLog: bigint;
  readonly pprLog: bigint | undefined;
  /** Log length in bytes (512 entries of 16 bytes). */
  readonly logBytes: number;
}

const RING_BYTES = (1 << R.RING_LEN_512) * 16;
const RING_PAGES = RING_BYTES / 4096;

function ring(phys: PhysMemory): bigint {
  return phys.allocContiguous(RING_PAGES, RING_PAGES) << 12n;
}

/**
 * `early_enable_iommu` + `amd_iommu_enable_ppr_log`: a device table with every DTE V=1, TV=1
 * (all DMA blocked until a device is attached), a 512-entry command buffer, event log and PPR
 * log, the completion semaphore, then CONTROL: InvTimeOut 1 s, coherent, CmdBufEn, EventLogEn
 * and its interrupt, PPR, GT, GCR3TRPMode when the EFRs have them, IommuEn last.
 */
export function bootIommu(
  hw: AmdViHardware,
  phys: PhysMemory,
  scheduler: Scheduler,
  deviceIds: number,
): BootLayout {
  const devPages = Math.max(1, Math.ceil((deviceIds * DTE_SIZE) / 4096));
  const align = 2 ** Math.ceil(Math.log2(devPages));
  const devTable = phys.allocContiguous(devPages, align) << 12n;
  // One page of blocking DTEs, copied over the table (65536 single writes cost ~100 ms).
  const page = new Uint8Array(4096);
  const view = new DataView(page.buffer);
  for (let off = 0; off < 4096; off += DTE_SIZE) view.setBigUint64(off, DTE_V | DTE_TV, true);
  const bytes = deviceIds * DTE_SIZE;
  for (let off = 0; off < bytes; off += 4096)
    phys.write(devTable + BigInt(off), page.subarray(0, Math.min(4096, bytes - off)));
  hw.writeReg(R.MMIO_DEV_TABLE, devTable | BigInt(devPages - 1));

  const cmdBuf = ring(phys);
  hw.writeReg(R.MMIO_CMD_BUF, cmdBuf | (BigInt(R.RING_LEN_512) << R.RING_LEN_SHIFT));
  hw.writeReg(R.MMIO_CMD_HEAD, 0n);
  hw.writeReg(R.MMIO_CMD_TAIL, 0n);
  const eventLog = ring(phys);
  hw.writeReg(R.MMIO_EVT_BUF, eventLog | (BigInt(R.RING_LEN_512) << R.RING_LEN_SHIFT));
  hw.writeReg(R.MMIO_EVT_HEAD, 0n);
  hw.writeReg(R.MMIO_EVT_TAIL, 0n);
  const ppr = (hw.efr & R.FEATURE_PPR) !== 0n;
  const pprLog = ppr ? ring(phys) : undefined;
  if (pprLog !== undefined) {
    hw.writeReg(R.MMIO_PPR_LOG, pprLog | (BigInt(R.RING_LEN_512) << R.RING_LEN_SHIFT));
    hw.writeReg(R.MMIO_PPR_HEAD, 0n);
    hw.writeReg(R.MMIO_PPR_TAIL, 0n);
  }
  const sem = phys.allocPage() << 12n;

  let control = (R.CTRL_INV_TO_1S << R.CONTROL_INV_TIMEOUT_SHIFT) | R.CONTROL_COHERENT_EN;
  control |= R.CONTROL_CMDBUF_EN | R.CONTROL_EVT_LOG_EN | R.CONTROL_EVT_INT_EN;
  if (ppr) control |= R.CONTROL_PPRLOG_EN | R.CONTROL_PPRINT_EN | R.CONTROL_PPR_EN;
  if (hw.efr & R.FEATURE_GT) control |= R.CONTROL_GT_EN;
  if (hw.efr2 & R.FEATURE2_GCR3TRPMODE) control |= R.CONTROL_GCR3TRPMODE;
  hw.writeReg(R.MMIO_CONTROL, control);
  hw.writeReg(R.MMIO_CONTROL, control | R.CONTROL_IOMMU_EN);

  const issuer = new CmdIssuer(hw, phys, scheduler, cmdBuf, RING_BYTES, sem);
  return { devTable, issuer, eventLog, pprLog, logBytes: RING_BYTES };
}
