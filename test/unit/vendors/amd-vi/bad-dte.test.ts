import { fc, test as prop } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { decodeDte, dteReservedViolation } from '../../../../vendors/amd-vi/dte.ts';
import { bareIommu } from './helpers.ts';

const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });

describe('malformed DTEs in memory', () => {
  prop.prop(
    [
      u64,
      u64,
      u64,
      u64,
      fc.bigInt({ min: 0n, max: (1n << 48n) - 1n }),
      fc.boolean(),
      fc.option(fc.integer({ min: 0, max: 0xffff })),
    ],
    {
      numRuns: 100,
    },
  )(
    'give ILLEGAL_DEV_TABLE_ENTRY or a walk fault, never a crash nor an unchecked access',
    (q0, q1, q2, q3, iova, write, pasid) => {
      const b = bareIommu();
      const q: [bigint, bigint, bigint, bigint] = [q0 | 1n, q1, q2, q3];
      b.setDteRaw(0x10, q);
      const d = decodeDte(q);
      const r = b.hw.translate({ rid: 0x10, pasid: pasid ?? undefined, iova, write });
      const illegal =
        dteReservedViolation(q) >= 0 ||
        (d.tv && (d.mode === 7 || d.mode > 4 || (d.gv && (d.glx > 1 || d.guestPagingMode > 0))));
      if (illegal) {
        expect(r).toMatchObject({
          ok: false,
          fault: { reason: 'bad-config', record: { event: 'ILLEGAL_DEV_TABLE_ENTRY' } },
        });
        return;
      }
      if (r.ok) {
        // Only a DTE that asks for no translation lets a DMA through untranslated.
        const host = pasid === null && !(d.gv && d.giov);
        expect(d.tv && host && d.mode === 0 && (write ? d.iw : d.ir)).toBe(true);
        expect(r.pa).toBe(iova);
      } else {
        expect(['IO_PAGE_FAULT', 'PAGE_TAB_HW_ERROR']).toContain(r.fault.record.event);
      }
      expect(b.events().length).toBe(r.ok ? 0 : 1);
    },
  );
});
