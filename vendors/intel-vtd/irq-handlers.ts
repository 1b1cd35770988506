import type { IopfReport } from '../driver.ts';
import { QI_GRAN_DSI, QI_IWD_FENCE, QI_IWD_TYPE, QI_RESP_INVALID } from './descriptors.ts';
import type { DeviceInfo } from './device-info.ts';
import type { VtdDriver } from './driver.ts';
import { faultReasonName } from './fault-reasons.ts';
import { decodeFrcd, FRCD_F, type PrimaryFault } from './fault-recording.ts';
import { IOMMU_NO_PASID } from './flush.ts';
import { decodePageReq, PRQ_DESC_SIZE } from './prq.ts';
import {
  ALL_PAGES,
  descDevIotlb,
  descDevIotlbPasid,
  descPageResponse,
  descPiotlb,
  MAX_AGAW_PFN_WIDTH,
  type RawDesc,
} from './qi-encode.ts';
import {
  capNfr,
  DMA_FSTS_PFO,
  DMA_FSTS_PPF,
  DMA_PRS_PPR,
  DMA_PRS_PRO,
  DMAR_FECTL_REG,
  DMAR_FSTS_REG,
  DMAR_PECTL_REG,
  DMAR_PQA_REG,
  DMAR_PQH_REG,
  DMAR_PQT_REG,
  DMAR_PRS_REG,
  ecapPrs,
  FRCD_BASE,
} from './regs.ts';

/** How many faults the driver keeps for inspection. */
const FAULT_LOG_MAX = 256;
/** Drain retries while PRS.PRO stays set. */
const DRAIN_RETRIES = 8;

/**
 * The driver's interrupt handlers: `dmar_fault` reads and clears fault records, and
 * `prq_event_thread` consumes the page request queue, reporting each request (iopf) and
 * answering malformed ones. Also the PRQ-side helpers: page responses and the PASID drain.
 */
export class VtdIrqHandlers {
  /** Faults read out of the fault recording registers, oldest first. */
  readonly faultLog: PrimaryFault[] = [];
  readonly prqPa: bigint;
  readonly prqBytes: number;
  /** Requests handled per PRQ interrupt pass. */
  prqHandled = 0;

  constructor(
    private readonly drv: VtdDriver,
    private readonly report: (r: IopfReport) => void,
  ) {
    const hw = drv.hw;
    const regs = hw.regs;
    hw.faults.irq.interrupts$.subscribe(() => this.dmarFault());
    regs.write32(DMAR_FECTL_REG, 0);
    const order = drv.options.prqOrder;
    this.prqBytes = 4096 << order;
    this.prqPa = ecapPrs(hw.ecap) ? drv.phys.allocContiguous(1 << order, 1 << order) << 12n : 0n;
    if (this.prqPa) {
      regs.write64(DMAR_PQH_REG, 0n);
      regs.write64(DMAR_PQA_REG, this.prqPa | BigInt(order));
      hw.prq.irq.interrupts$.subscribe(() => this.prqEvent());
      regs.write32(DMAR_PECTL_REG, 0);
    }
  }

  /** `dmar_fault`: from FRI, read each record with F set, log it, clear F; then clear PFO. */
  dmarFault(): void {
    const regs = this.drv.hw.regs;
    const fsts = regs.read32(DMAR_FSTS_REG);
    if (!(fsts & (DMA_FSTS_PPF | DMA_FSTS_PFO))) return;
    const nfr = capNfr(this.drv.hw.cap);
    let index = (fsts >> 8) & 0xff;
    if (fsts & DMA_FSTS_PPF) {
      for (let n = 0; n < nfr; n++) {
        const off = FRCD_BASE + index * 16;
        const hi = regs.read64(off + 8);
        if (!(hi & FRCD_F)) break;
        const f = decodeFrcd(regs.read64(off), hi);
        regs.write32(off + 12, 0x8000_0000);
        this.faultLog.push(f);
        if (this.faultLog.length > FAULT_LOG_MAX) this.faultLog.shift();
        const tracer = this.drv.tracer;
        if (tracer.on) {
          tracer.emit({
            type: 'fault',
            t: this.drv.scheduler.now,
            iommu: this.drv.instance,
            reason: faultReasonName(f.fr),
            detail: `sid 0x${f.sid.toString(16)} addr 0x${f.addr.toString(16)} ${f.write ? 'write' : 'read'}`,
          });
        }
        index = (index + 1) % nfr;
      }
    }
    regs.write32(DMAR_FSTS_REG, DMA_FSTS_PFO | DMA_FSTS_PPF);
  }

  /** `prq_event_thread`. */
  prqEvent(): void {
    const regs = this.drv.hw.regs;
    const mask = this.prqBytes - 1;
    regs.write32(DMAR_PRS_REG, DMA_PRS_PPR);
    const tail = Number(regs.read64(DMAR_PQT_REG)) & mask & ~(PRQ_DESC_SIZE - 1);
    let head = Number(regs.read64(DMAR_PQH_REG)) & mask & ~(PRQ_DESC_SIZE - 1);
    const phys = this.drv.phys;
    while (head !== tail) {
      const at = this.prqPa + BigInt(head);
      const req = decodePageReq(phys.readU64(at), phys.readU64(at + 8n));
      this.prqHandled++;
      const bad = req.addr >> 47n !== 0n || (req.priv && (req.read || req.write)) || (req.exec && req.read);
      const info = this.drv.hw.devices.has(req.rid) ? this.#infoByRid(req.rid) : undefined;
      if (bad || !info) {
        if (req.lpig) void this.pageResponse(info, req.pasid, req.prgIndex, QI_RESP_INVALID, true, req.rid);
      } else if (!(req.lpig && !req.read && !req.write)) {
        // Stop markers (LPIG, no read, no write) get no report and no response.
        this.report({
          dev: info.dev,
          pasid: req.pasid,
          grpid: req.prgIndex,
          perm: (req.read ? 1 : 0) | (req.write ? 2 : 0) | (req.exec ? 4 : 0),
          addr: req.addr,
          lastPage: req.lpig,
        });
      }
      head = (head + PRQ_DESC_SIZE) & mask;
    }
    regs.write64(DMAR_PQH_REG, BigInt(tail));
    if (regs.read32(DMAR_PRS_REG) & DMA_PRS_PRO) {
      const h = Number(regs.read64(DMAR_PQH_REG)) & mask;
      const t = Number(regs.read64(DMAR_PQT_REG)) & mask;
      if (h === t) regs.write32(DMAR_PRS_REG, DMA_PRS_PRO);
    }
  }

  /** Sends a page group response (`intel_page_response`). */
  pageResponse(
    info: DeviceInfo | undefined,
    pasid: number | undefined,
    grpid: number,
    code: number,
    lastPage: boolean,
    rid = info?.sid ?? 0,
  ): Promise<unknown> {
    return this.drv.qi.submit([descPageResponse(rid, pasid, grpid, code, lastPage)]);
  }

  /**
   * `intel_iommu_drain_pasid_prq`: wait until the software queue holds nothing for the PASID,
   * then a fenced wait + IOTLB + device-TLB flush submitted with PD (drain), repeated while
   * PRS.PRO says requests were dropped.
   */
  async drainPasidPrq(info: DeviceInfo, pasid: number, did: number): Promise<void> {
    if (!info.priSupported || !this.prqPa) return;
    const drv = this.drv;
    const regs = drv.hw.regs;
    for (let spins = 0; this.#pendingFor(pasid) && spins < DRAIN_RETRIES; spins++) {
      await drv.scheduler.sleep(drv.options.pollNs);
    }
    const fence: RawDesc = [(2n << 32n) | QI_IWD_FENCE | BigInt(QI_IWD_TYPE), 0n, 0n, 0n];
    const descs: RawDesc[] =
      pasid === IOMMU_NO_PASID
        ? [
            fence,
            drv.flusher.iotlb(did, 0n, false, 0, QI_GRAN_DSI),
            descDevIotlb(info.sid, info.pfsid, info.atsQdep, 0n, MAX_AGAW_PFN_WIDTH),
          ]
        : [
            fence,
            descPiotlb(did, pasid, 0n, ALL_PAGES, false),
            descDevIotlbPasid(info.sid, info.pfsid, pasid, info.atsQdep, 0n, MAX_AGAW_PFN_WIDTH),
          ];
    for (let i = 0; i < DRAIN_RETRIES; i++) {
      await drv.qi.submit(descs, true);
      if (!(regs.read32(DMAR_PRS_REG) & DMA_PRS_PRO)) return;
      await drv.scheduler.sleep(drv.options.pollNs);
    }
  }

  #pendingFor(pasid: number): boolean {
    const regs = this.drv.hw.regs;
    const mask = this.prqBytes - 1;
    const tail = Number(regs.read64(DMAR_PQT_REG)) & mask;
    for (
      let head = Number(regs.read64(DMAR_PQH_REG)) & mask;
      head !== tail;
      head = (head + PRQ_DESC_SIZE) & mask
    ) {
      const req = decodePageReq(this.drv.phys.readU64(this.prqPa + BigInt(head)), 0n);
      if (req.pasid === pasid) return true;
    }
    return false;
  }

  #infoByRid(rid: number): DeviceInfo | undefined {
    return this.drv.infoByRid(rid);
  }
}
