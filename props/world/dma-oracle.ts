import type { DmaResult } from '../../actors/device.ts';
import { IOMMU_READ, IOMMU_WRITE } from '../../vendors/driver.ts';
import { areaAt, areaLast, uvaOf } from '../model/areas.ts';
import { hwptById } from '../model/graph.ts';
import { type AreaModel, type GroupDomain, type IoasRef, type Model, RID } from '../model/model.ts';
import { tagOwners } from './tags.ts';

/**
 * How a DMA's outcome compares with the model:
 * - `ok`: allowed (a translation the attachment has, or a fault where it may have none);
 * - `stale`: it succeeded although no domain the device may use maps the IOVA;
 * - `permission`: it succeeded although the mapping forbids that direction;
 * - `wrong-page`: it succeeded, but not on the page the mapping names;
 * - `foreign`: it returned memory of a process that does not own the device;
 * - `unbacked`: it reached physical memory nobody owns (a freed page);
 * - `missing`: it faulted although every domain it may use maps the IOVA (a model/accuracy issue).
 */
export type DmaVerdictKind =
  | 'ok'
  | 'stale'
  | 'permission'
  | 'wrong-page'
  | 'foreign'
  | 'unbacked'
  | 'missing';

export interface DmaRequestModel {
  readonly dev: number;
  readonly pasid: number | undefined;
  readonly op: 'read' | 'write';
  readonly iova: bigint;
  readonly length: number;
  readonly data?: Uint8Array;
}

/** Process memory as the CPU sees it; undefined where nothing is mapped. */
export type MemReader = (proc: number, uva: bigint, length: number) => Uint8Array | undefined;

interface Candidate {
  readonly ctx: number;
  readonly areas: readonly AreaModel[];
}

/** The area lists a device may translate through at `pasid`: its group's domain, plus in-flight alternatives. */
export function candidates(
  m: Readonly<Model>,
  dev: number,
  pasid: number | undefined,
): Array<Candidate | undefined> {
  const group = m.devices[dev]!.group;
  const key = pasid ?? RID;
  const refs: Array<IoasRef | undefined> = [ioasOfDomain(m, m.groups.get(group)!.domains.get(key))];
  for (const alt of m.window?.altDomains ?? [])
    if (alt.group === group && alt.pasid === key) refs.push(alt.target);
  return refs.map((r) => {
    const ioas = r && m.ctxs.get(r.ctx)?.ioas.find((i) => i.id === r.ioas);
    return r && ioas ? { ctx: r.ctx, areas: ioas.areas } : undefined;
  });
}

/** The IOAS a group domain translates (a nested HWPT translates through its parent's, or not at all). */
export function ioasOfDomain(m: Readonly<Model>, d: GroupDomain | undefined): IoasRef | undefined {
  const ctx = d && m.ctxs.get(d.ctx);
  const hwpt = ctx && hwptById(ctx, d.hwpt);
  return hwpt?.translates ? { ctx: d!.ctx, ioas: hwpt.ioas } : undefined;
}

interface Segment {
  readonly from: bigint;
  readonly length: number;
  readonly area: AreaModel | undefined;
}

function segments(areas: readonly AreaModel[], iova: bigint, length: number): Segment[] {
  const out: Segment[] = [];
  const end = iova + BigInt(length);
  let at = iova;
  while (at < end) {
    const area = areaAt(areas, at);
    let to = end;
    if (area) to = areaLast(area) + 1n < end ? areaLast(area) + 1n : end;
    else {
      const next = areas.find((a) => a.iova > at);
      if (next && next.iova < end) to = next.iova;
    }
    out.push({ from: at, length: Number(to - at), area });
    at = to;
  }
  return out;
}

/** Judges one completed DMA against the model as it is at delivery. */
export function judgeDma(
  m: Readonly<Model>,
  req: DmaRequestModel,
  result: DmaResult,
  mem: MemReader,
): { kind: DmaVerdictKind; detail: string } {
  const need = req.op === 'write' ? IOMMU_WRITE : IOMMU_READ;
  // Many page-table formats cannot express write-only (x86 first-level, Arm LPAE): a read
  // through a write-only mapping may succeed, and stays inside memory the device was given.
  const allow = req.op === 'write' ? IOMMU_WRITE : IOMMU_READ | IOMMU_WRITE;
  const maybeGone = m.window?.maybeRemoved;
  const cands = candidates(m, req.dev, req.pasid).map((c) => ({
    c,
    segs: c ? segments(c.areas, req.iova, req.length) : [],
  }));
  const covered = (segs: Segment[], definite: boolean, perm: boolean) =>
    segs.length > 0 &&
    segs.every(
      (s) =>
        s.area !== undefined &&
        (!perm || (s.area.prot & (definite ? need : allow)) !== 0) &&
        !(definite && maybeGone?.has(s.area)),
    );
  const where = `${req.op} ${req.length} bytes at IOVA 0x${req.iova.toString(16)}`;

  if (!result.ok) {
    if (result.fault.vendor === 'farm') {
      return {
        kind: 'unbacked',
        detail: `${where} reached unowned physical memory 0x${result.fault.pa.toString(16)}`,
      };
    }
    if (cands.some(({ segs }) => !covered(segs, true, true))) return { kind: 'ok', detail: '' };
    return { kind: 'missing', detail: `${where} faulted (${result.fault.reason}) although it is mapped` };
  }

  if (req.op === 'read' && result.data) {
    const owners = ownerProcs(
      m,
      req.dev,
      cands.map((x) => x.c),
    );
    const foreign = [...tagOwners(result.data, req.iova)].filter((p) => !owners.has(p));
    if (foreign.length > 0) {
      return {
        kind: 'foreign',
        detail: `${where} returned memory of process p${foreign[0]} (owners: ${[...owners].map((p) => `p${p}`).join(', ') || 'none'})`,
      };
    }
  }
  const matches = (segs: Segment[]) => {
    let off = 0;
    for (const s of segs) {
      const got = mem(s.area!.proc, uvaOf(s.area!, s.from), s.length);
      const want =
        req.op === 'read'
          ? result.data?.subarray(off, off + s.length)
          : req.data?.subarray(off, off + s.length);
      if (!got || !want || !sameBytes(got, want)) return false;
      off += s.length;
    }
    return true;
  };
  if (cands.some(({ segs }) => covered(segs, false, true) && matches(segs)))
    return { kind: 'ok', detail: '' };
  if (cands.some(({ segs }) => covered(segs, false, true))) {
    return { kind: 'wrong-page', detail: `${where} succeeded but not on the page its mapping names` };
  }
  if (cands.some(({ segs }) => covered(segs, false, false))) {
    return { kind: 'permission', detail: `${where} succeeded although the mapping forbids ${req.op}` };
  }
  return { kind: 'stale', detail: `${where} succeeded although no domain the device may use maps it` };
}

/** Processes whose memory a device may reach: its own ctx's, else those of the domains it may use. */
function ownerProcs(
  m: Readonly<Model>,
  dev: number,
  cands: ReadonlyArray<Candidate | undefined>,
): Set<number> {
  const bound = m.devices[dev]!.bound;
  const ctxs = bound !== undefined ? [bound] : cands.flatMap((c) => (c ? [c.ctx] : []));
  return new Set(
    ctxs.flatMap((k) => {
      const ctx = m.ctxs.get(k);
      return ctx ? [ctx.proc] : [];
    }),
  );
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
