import type { PhysMemory } from '../../actors/mem/phys-memory.ts';
import type { Scheduler } from '../../actors/runtime/scheduler.ts';
import type { DeviceAtc } from '../atc.ts';
import type { CmdEffects } from './cmd-exec.ts';
import type { DteCache } from './dte-cache.ts';
import type { AmdEvent } from './events.ts';
import type { AtcBehaviour } from './hardware.ts';
import type { Iotlb } from './iotlb.ts';

interface EffectsHw {
  readonly name: string;
  readonly efr: bigint;
  readonly phys: PhysMemory;
  readonly iotlb: Iotlb;
  readonly dteCache: DteCache;
  readonly atcBehaviour: ReadonlyMap<number, AtcBehaviour>;
  endpoint(rid: number): { readonly name: string; readonly atc: DeviceAtc | undefined } | undefined;
  raiseComWait(): void;
  invTimeoutNs(): number;
  respondPpr(devid: number, pasid: number | undefined, status: number, tag: number): void;
  logEvent(e: AmdEvent): void;
}

/**
 * What each command does to the IOMMU around the command buffer: cache invalidations, the ATS
 * invalidation sent to the device over the fabric (its completion comes back the same way),
 * PRG responses, the COMPLETION_WAIT store and interrupt.
 */
export function commandEffects(hw: EffectsHw, scheduler: Scheduler, linkNs: number): CmdEffects {
  return {
    efr: hw.efr,
    invalidateDte: (devid) => hw.dteCache.delete(devid),
    invalidatePages: (domid, pasid, start, size) => {
      hw.iotlb.invalidate(domid, pasid, start, size);
    },
    invalidateAll: () => {
      hw.iotlb.clear();
      hw.dteCache.clear();
    },
    invalidateIrt: () => {},
    sendAtcInvalidation: (devid, pasid, start, size, done) => {
      const dev = hw.endpoint(devid);
      const atc = dev?.atc;
      if (!dev || !atc) return false;
      const how = hw.atcBehaviour.get(devid);
      scheduler.post(
        `${hw.name}->${dev.name}`,
        'atc.inv',
        () => {
          atc.invalidate(pasid, start, size);
          if (how?.drop) return;
          scheduler.post(`${dev.name}->${hw.name}`, 'atc.inv.done', done, how?.delayNs ?? linkNs);
        },
        linkNs,
      );
      return true;
    },
    completePpr: (devid, pasid, status, tag) => hw.respondPpr(devid, pasid, status, tag),
    storeCompletion: (pa, data) => {
      try {
        hw.phys.writeU64(pa, data);
        return true;
      } catch {
        return false;
      }
    },
    raiseComWait: () => hw.raiseComWait(),
    logEvent: (e) => hw.logEvent(e),
    invTimeoutNs: () => hw.invTimeoutNs(),
  };
}
