import type { PhysMemory } from '../../actors/mem/phys-memory.ts';
import type { DmaFault } from '../hardware.ts';
import {
  EVT_ID_ACCESS_FAULT,
  EVT_ID_ADDR_SIZE_FAULT,
  EVT_ID_PERMISSION_FAULT,
  EVT_ID_TRANSLATION_FAULT,
  EVT_ID_WALK_EABT,
} from './event.ts';
import { type WalkConfig, type WalkFault, type WalkFaultKind, walk } from './lpae.ts';

/** A stage-2 lookup of an IPA the hardware itself needs (CD and stage-1 table fetches). */
export type S2Translate = (cfg: WalkConfig, ipa: bigint) => { ok: true; pa: bigint } | WalkFault;

export const FAULT_EVENT: Readonly<Record<WalkFaultKind, number>> = {
  translation: EVT_ID_TRANSLATION_FAULT,
  'addr-size': EVT_ID_ADDR_SIZE_FAULT,
  access: EVT_ID_ACCESS_FAULT,
  permission: EVT_ID_PERMISSION_FAULT,
  eabt: EVT_ID_WALK_EABT,
};

export const FAULT_REASON: Readonly<Record<WalkFaultKind, DmaFault['reason']>> = {
  translation: 'not-present',
  'addr-size': 'not-present',
  access: 'not-present',
  permission: 'permission',
  eabt: 'bad-config',
};

export function s2Fault(f: WalkFault, ipa: bigint) {
  return { id: FAULT_EVENT[f.kind], reason: FAULT_REASON[f.kind], s2: true, ipa };
}

/** Stage-2 read translation of a structure or table address. */
export function s2Lookup(phys: PhysMemory): S2Translate {
  return (cfg, ipa) => {
    const r = walk(phys, cfg, ipa, { write: false, exec: false, priv: false });
    if (!r.ok) return { ...r, s2: { ipa, onTableFetch: false } };
    return { ok: true, pa: r.oa + (ipa & (r.pageSize - 1n)) };
  };
}
