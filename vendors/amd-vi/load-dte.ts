import type { PhysMemory } from '../../actors/mem/phys-memory.ts';
import { DTE_SIZE, decodeDte, dteReservedViolation } from './dte.ts';
import { FEATURE_GLX_SHIFT, FEATURE_GT, field, guestLevels, hostLevels, RING_BASE_MASK } from './regs.ts';
import type { DteState } from './translate.ts';

/**
 * Reads and checks the DTE of `devid` from the device table the register points at (base 51:12,
 * size (n+1)·4 KiB in 8:0). A valid DTE with reserved bits set, Mode 7 or beyond EFR.HATS, GLX
 * beyond EFR.GLXSup or 3, or a guest paging mode the IOMMU lacks is ILLEGAL_DEV_TABLE_ENTRY
 * [spec]; a table that is not in memory is DEV_TAB_HW_ERROR.
 */
export function loadDte(phys: PhysMemory, devTabReg: bigint, devid: number, efr: bigint): DteState {
  const size = (Number(devTabReg & 0x1ffn) + 1) * 4096;
  if ((devid + 1) * DTE_SIZE > size) return { kind: 'illegal', rz: false };
  const at = (devTabReg & RING_BASE_MASK) + BigInt(devid * DTE_SIZE);
  let q: [bigint, bigint, bigint, bigint];
  try {
    q = [phys.readU64(at), phys.readU64(at + 8n), phys.readU64(at + 16n), phys.readU64(at + 24n)];
  } catch {
    return { kind: 'hw-error', at };
  }
  const dte = decodeDte(q);
  if (!dte.v) return { kind: 'ok', dte };
  if (dteReservedViolation(q) >= 0) return { kind: 'illegal', rz: true };
  if (dte.tv) {
    if (dte.mode === 7 || dte.mode > hostLevels(efr)) return { kind: 'illegal', rz: false };
    if (dte.gv) {
      if (!(efr & FEATURE_GT)) return { kind: 'illegal', rz: false };
      if (dte.glx === 3 || dte.glx > field(efr, FEATURE_GLX_SHIFT, 2n)) return { kind: 'illegal', rz: false };
      if (dte.guestPagingMode > (guestLevels(efr) === 5 ? 1 : 0)) return { kind: 'illegal', rz: false };
    }
  }
  return { kind: 'ok', dte };
}
