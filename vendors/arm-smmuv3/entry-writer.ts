import type { PhysMemory } from '../../actors/mem/phys-memory.ts';

/** How one STE or CD is read, written and made visible (`struct arm_smmu_entry_writer_ops`). */
export interface EntryWriter {
  readonly pa: bigint;
  /** `get_used`: the bits the hardware reads in this configuration. */
  used(words: readonly bigint[]): bigint[];
  /** CFGI_STE / CFGI_CD + CMD_SYNC. */
  sync(): Promise<void>;
}

const N = 8;

function read(phys: PhysMemory, pa: bigint): bigint[] {
  const w: bigint[] = [];
  for (let i = 0; i < N; i++) w.push(phys.readU64(pa + BigInt(i * 8)));
  return w;
}

/** `entry_set`: writes qwords [start, start+len) that differ; syncs if any did. */
async function entrySet(
  phys: PhysMemory,
  w: EntryWriter,
  entry: bigint[],
  target: readonly bigint[],
  start: number,
  len: number,
) {
  let changed = false;
  for (let i = start; i < start + len; i++) {
    if (entry[i] !== target[i]) {
      entry[i] = target[i]!;
      phys.writeU64(w.pa + BigInt(i * 8), target[i]!);
      changed = true;
    }
  }
  if (changed) await w.sync();
  return changed;
}

/**
 * `arm_smmu_write_entry`: updates an STE or CD so the hardware, which may fetch it at any time,
 * only ever sees the old or the new configuration. If only one qword's used bits change, the
 * update is hitless (unused bits first, then that qword, then clean-up); otherwise V goes to 0
 * first (a breaking update). Each step that wrote something is followed by a sync.
 */
export async function writeEntry(phys: PhysMemory, w: EntryWriter, target: readonly bigint[]): Promise<void> {
  const entry = read(phys, w.pa);
  const curUsed = w.used(entry);
  const targetUsed = w.used(target);
  const unused = new Array<bigint>(N);
  let diff = 0;
  for (let i = 0; i < N; i++) {
    unused[i] = (entry[i]! & curUsed[i]!) | (target[i]! & ~curUsed[i]!);
    if ((unused[i]! & targetUsed[i]!) !== target[i]) diff |= 1 << i;
  }
  const bits = diff.toString(2).replace(/0/g, '').length;
  if (bits === 1) {
    const critical = Math.log2(diff & -diff);
    unused[critical] = entry[critical]!;
    await entrySet(phys, w, entry, unused, 0, N);
    await entrySet(phys, w, entry, target, critical, 1);
    await entrySet(phys, w, entry, target, 0, N);
  } else if (diff) {
    unused[0] = 0n;
    await entrySet(phys, w, entry, unused, 0, 1);
    await entrySet(phys, w, entry, target, 1, N - 1);
    await entrySet(phys, w, entry, target, 0, 1);
  } else {
    await entrySet(phys, w, entry, target, 0, N);
  }
}
