import type { AnyActorRef } from 'xstate';
import { DeviceAtc } from '../vendors/atc.ts';
import type { DeviceRef } from '../vendors/driver.ts';
import type { DmaFault } from '../vendors/hardware.ts';
import type { Farm } from './farm.ts';
import type { KernelDevice } from './kernel/iommu-core.ts';
import type { PhysMemory } from './mem/phys-memory.ts';
import { PhysAccessError } from './mem/phys-memory.ts';
import { checkDmaRequest } from './options/dma-request.ts';

/** One DMA transaction: {@link Device.dma}. */
export interface DmaRequestOptions {
  readonly op: 'read' | 'write';
  readonly iova: bigint;
  readonly length: number;
  readonly pasid?: number;
  /** The bytes to write (op 'write'); defaults to zeros. */
  readonly data?: Uint8Array;
}

/** A DMA's outcome: the bytes read, or the fault that aborted the whole transaction. */
export type DmaResult =
  | { readonly ok: true; readonly data?: Uint8Array }
  | { readonly ok: false; readonly fault: DmaFault | UnbackedAccess };

/** PCIe round trip of a transaction, plus its payload: DMA takes virtual time. */
const DMA_LATENCY_NS = 200;
const DMA_PER_PAGE_NS = 40;

/** A translation that points at physical memory nobody owns: the simulator's use-after-free alarm. */
export interface UnbackedAccess {
  readonly vendor: 'farm';
  readonly reason: 'unbacked';
  readonly iova: bigint;
  readonly pa: bigint;
}

/**
 * A PCI function that can do DMA. A transaction crosses the fabric to its IOMMU, is translated
 * page by page (a plain function: no machine event per access), and then reads or writes
 * host memory. Any faulting page aborts the whole transaction before memory is touched.
 */
export class Device {
  /** The ATC of an ATS-capable device behind an IOMMU that does ATS. */
  readonly atc: DeviceAtc | undefined;

  /** @internal The device's machine (a plain field so that published types leave XState out). */
  readonly actor: AnyActorRef;

  /** @internal Devices are made by `host.addDevice`. */
  constructor(
    readonly farm: Farm,
    readonly kdev: KernelDevice,
    actor: AnyActorRef,
    private readonly phys: PhysMemory,
    private readonly iommuActor: AnyActorRef,
  ) {
    this.actor = actor;
    const hw = kdev.iommu.hw;
    this.atc = kdev.ref.ats && hw.atsTranslate ? new DeviceAtc() : undefined;
    hw.registerDevice?.(kdev.ref.rid, { name: kdev.name, atc: this.atc });
  }

  get name(): string {
    return this.kdev.name;
  }

  get ref(): DeviceRef {
    return this.kdev.ref;
  }

  /**
   * Issues a DMA; settles once the fabric delivered it (virtual time moves on by itself). A bad
   * request rejects with FarmOptionError; a throw while executing it rejects too.
   */
  dma(req: DmaRequestOptions): Promise<DmaResult> {
    const bad = checkDmaRequest(req, this.kdev.ref.pasidBits, this.name);
    if (bad) return Promise.reject(bad);
    return this.farm.scheduler.request(
      `${this.name}->${this.kdev.iommu.name}`,
      `dma.${req.op}`,
      DMA_LATENCY_NS + Math.ceil(req.length / 4096) * DMA_PER_PAGE_NS,
      () => this.#execute(req),
      `${this.name}.dma(${req.op})`,
    );
  }

  #execute(req: DmaRequestOptions): DmaResult {
    const write = req.op === 'write';
    if (this.kdev.dmaFenced) return this.#finish(req, { ok: false, fault: this.#fenced(req, write) });
    const runs: Array<[bigint, number]> = [];
    let iova = req.iova;
    let remaining = req.length;
    while (remaining > 0) {
      const t = this.#translate(iova, req.pasid, write);
      if (!t.ok) return this.#finish(req, { ok: false, fault: t.fault });
      const inPage = Number(t.pageSize - (iova % t.pageSize));
      const n = Math.min(inPage, remaining);
      runs.push([t.pa, n]);
      iova += BigInt(n);
      remaining -= n;
    }
    try {
      if (write) {
        const data = req.data ?? new Uint8Array(req.length);
        let off = 0;
        for (const [pa, n] of runs) {
          this.phys.write(pa, data.subarray(off, off + n));
          off += n;
        }
        return this.#finish(req, { ok: true });
      }
      const out = new Uint8Array(req.length);
      let off = 0;
      for (const [pa, n] of runs) {
        out.set(this.phys.read(pa, n), off);
        off += n;
      }
      return this.#finish(req, { ok: true, data: out });
    } catch (err) {
      if (!(err instanceof PhysAccessError)) throw err;
      return this.#finish(req, {
        ok: false,
        fault: { vendor: 'farm', reason: 'unbacked', iova: req.iova, pa: err.pa },
      });
    }
  }

  /** The master abort of a function whose bus mastering the kernel switched off: a blocked DMA. */
  #fenced(req: DmaRequestOptions, write: boolean): DmaFault {
    const { driver, name } = this.kdev.iommu;
    return {
      vendor: driver.vendor,
      iommu: name,
      reason: 'blocked',
      rid: this.kdev.ref.rid,
      pasid: req.pasid,
      iova: req.iova,
      write,
      record: { source: 'bus-master-disabled' },
    };
  }

  /** ATC first; on a miss an ATS Translation Request fills it; else an untranslated request. */
  #translate(iova: bigint, pasid: number | undefined, write: boolean) {
    const hw = this.kdev.iommu.hw;
    const req = { rid: this.kdev.ref.rid, pasid, iova, write };
    if (this.atc) {
      const hit = this.atc.lookup(pasid, iova, write);
      if (hit)
        return {
          ok: true as const,
          pa: hit.pa + (iova % hit.pageSize),
          pageSize: hit.pageSize,
          cached: true,
        };
      const t = hw.atsTranslate!(req);
      if (t?.ok) {
        const base = iova - (iova % t.pageSize);
        const pa = t.pa - (iova % t.pageSize);
        // The TR asks for both permissions; the completion carries what the IOMMU grants.
        const other = hw.atsTranslate!({ ...req, iova: base, write: !write });
        this.atc.fill(pasid, base, {
          pa,
          pageSize: t.pageSize,
          read: write ? other?.ok === true : true,
          write: write ? true : other?.ok === true,
          filledAt: this.farm.now,
        });
      }
      if (t) return t;
    }
    return hw.translate(req);
  }

  #finish(req: DmaRequestOptions, result: DmaResult): DmaResult {
    // Faults are rare and mode-changing: they go to the IOMMU's machine; successes never do.
    if (!result.ok && result.fault.vendor !== 'farm')
      this.iommuActor.send({ type: 'FAULT', reason: result.fault.reason });
    const tracer = this.farm.tracer;
    if (tracer.on) {
      tracer.emit({
        type: 'dma',
        t: this.farm.now,
        device: this.name,
        op: req.op,
        iova: req.iova,
        length: req.length,
        ...(req.pasid === undefined ? {} : { pasid: req.pasid }),
        ok: result.ok,
        ...(result.ok ? {} : { fault: result.fault.reason }),
      });
    }
    return result;
  }
}
