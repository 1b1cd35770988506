import type { AreaModel, IoasModel } from './model.ts';

/** Last byte of an area (inclusive). */
export const areaLast = (a: AreaModel): bigint => a.iova + a.length - 1n;

/** User VA that `iova` (inside `a`) reaches. */
export const uvaOf = (a: AreaModel, iova: bigint): bigint => a.uva + (iova - a.iova);

export function insertArea(ioas: IoasModel, area: AreaModel): void {
  const i = ioas.areas.findIndex((a) => a.iova > area.iova);
  if (i < 0) ioas.areas.push(area);
  else ioas.areas.splice(i, 0, area);
}

export function intersecting(ioas: IoasModel, iova: bigint, last: bigint): AreaModel[] {
  return ioas.areas.filter((a) => a.iova <= last && areaLast(a) >= iova);
}

export function areaAt(areas: readonly AreaModel[], iova: bigint): AreaModel | undefined {
  return areas.find((a) => a.iova <= iova && iova <= areaLast(a));
}

/**
 * `iopt_unmap_iova_range` on the model: areas intersecting [iova, last] in ascending order; each
 * fully inside is removed; the first one that sticks out stops the walk (ENOENT, keeping what was
 * removed). Returns the areas removed and whether the walk was cut short.
 */
export function planUnmap(
  ioas: IoasModel,
  iova: bigint,
  last: bigint,
): { removed: AreaModel[]; stuck: boolean } {
  const removed: AreaModel[] = [];
  for (const a of intersecting(ioas, iova, last)) {
    if (a.iova < iova || areaLast(a) > last) return { removed, stuck: true };
    removed.push(a);
  }
  return { removed, stuck: false };
}

export function removeAreas(ioas: IoasModel, gone: readonly AreaModel[]): void {
  const set = new Set(gone);
  ioas.areas = ioas.areas.filter((a) => !set.has(a));
}

/**
 * `iopt_get_pages` on the model: the pieces of contiguous areas covering [iova, iova+length), or
 * undefined when there is a hole (ENOENT).
 */
export function piecesOf(ioas: IoasModel, iova: bigint, length: bigint): AreaModel[] | undefined {
  if (length <= 0n) return undefined;
  const last = iova + length - 1n;
  const pieces: AreaModel[] = [];
  let at = iova;
  for (const a of intersecting(ioas, iova, last)) {
    if (a.iova > at) return undefined;
    const from = at;
    const to = areaLast(a) < last ? areaLast(a) : last;
    pieces.push({ ...a, iova: from, length: to - from + 1n, uva: uvaOf(a, from) });
    at = to + 1n;
  }
  return at > last ? pieces : undefined;
}
