import type { DmaResult } from '../../actors/device.ts';
import { RID } from '../model/model.ts';
import { writeData } from '../world/tags.ts';
import { type DmaCheck, deriveModel, judgeDma, judgeNested } from './oracle.ts';
import type { Rig } from './rig.ts';
import { bounded } from './settle.ts';
import { Dice } from './values.ts';

/** Verdicts that mean a device reached memory it must not. */
export const ESCAPES = new Set([
  'stale',
  'permission',
  'wrong-page',
  'foreign',
  'unbacked',
  'nested-foreign',
]);

const HISTORY = 3;

/**
 * After every call, every device DMAs: at its RID and every attached PASID (plus one PASID
 * nothing is attached at), aimed at an IOVA that worked before (a stale translation shows
 * there), inside an area its domain maps now, or anywhere. Each result is judged against the
 * state the kernel side holds; the first escape (or a mapped IOVA that faults) is returned.
 */
export class DmaSweep {
  /** `${device}|${pasid}` → IOVAs that last succeeded there, newest last. */
  readonly #worked = new Map<string, bigint[]>();
  #gen = 0;

  dice: Dice;

  constructor(
    readonly rig: Rig,
    readonly seed: number,
  ) {
    this.dice = new Dice(seed);
  }

  /**
   * `salt` names the step (its call): the sweep's draws depend on it and the seed only, so a
   * shrunk call list still aims the same DMAs after the calls it kept.
   */
  async run(salt: string): Promise<DmaCheck[]> {
    this.dice = new Dice(hashOf(this.seed, salt));
    const { model, nested } = deriveModel(this.rig);
    const jobs: Array<{
      check: Omit<DmaCheck, 'verdict' | 'detail'>;
      data?: Uint8Array;
      p: Promise<DmaResult>;
    }> = [];
    for (const dm of model.devices) {
      const dev = this.rig.host.device(dm.name);
      const group = model.groups.get(dm.group)!;
      const pasids: Array<number | undefined> = [undefined];
      if (dm.pasidBits > 0) {
        for (const p of group.domains.keys()) if (p !== RID && p < 2 ** dm.pasidBits) pasids.push(p);
        pasids.push(1 + this.dice.int(Math.min(2 ** dm.pasidBits - 1, 16)));
      }
      for (const pasid of pasids) {
        const key = `${dm.name}|${pasid ?? RID}`;
        const domain = group.domains.get(pasid ?? RID);
        const ctx = domain && model.ctxs.get(domain.ctx);
        const hwpt = ctx?.hwpts.find((h) => h.id === domain!.hwpt);
        const areas = (hwpt && ctx!.ioas.find((i) => i.id === hwpt.ioas)?.areas) ?? [];
        const targets: bigint[] = [...(this.#worked.get(key) ?? []).slice(-1)];
        if (areas.length > 0) {
          const a = this.dice.pick(areas);
          targets.push(
            a.iova + (BigInt(this.dice.int(Number(a.length > 1n << 20n ? 1n << 20n : a.length))) & ~3n),
          );
        } else if (this.dice.chance(0.2)) targets.push(BigInt(this.dice.int(1 << 30)) & ~0xfffn);
        for (const iova of targets) {
          const op: 'read' | 'write' = this.dice.chance(0.25) ? 'write' : 'read';
          const length = this.dice.chance(0.2) ? 4096 + 64 : 64;
          const data = op === 'write' ? writeData(0, ++this.#gen, length) : undefined;
          const p = dev.dma({
            op,
            iova,
            length,
            ...(pasid === undefined ? {} : { pasid }),
            ...(data ? { data } : {}),
          });
          jobs.push({ check: { device: dm.name, pasid, op, iova, length }, ...(data ? { data } : {}), p });
        }
      }
    }
    // Judged the moment each completes: a later write of the same sweep must not change the verdict.
    const out: DmaCheck[] = [];
    const judged = jobs.map((j) =>
      j.p.then((result) => {
        const dev = model.devices.findIndex((d) => d.name === j.check.device);
        const dm = model.devices[dev]!;
        const nestedCtx = nested.get(`${dm.group}|${j.check.pasid ?? RID}`);
        const verdict =
          nestedCtx !== undefined
            ? judgeNested(model.ctxs.get(nestedCtx)!.proc, result, j.check.iova)
            : judgeDma(
                model,
                { dev, ...j.check, ...(j.data ? { data: j.data } : {}) },
                result,
                (proc, uva, length) => {
                  try {
                    return this.rig.procs[proc]!.read(uva, length);
                  } catch {
                    return undefined;
                  }
                },
              );
        if (result.ok) this.#remember(`${dm.name}|${j.check.pasid ?? RID}`, j.check.iova);
        out.push({ ...j.check, verdict: verdict.kind, detail: verdict.detail });
      }),
    );
    await bounded(this.rig.farm, Promise.all(judged), 'the DMA sweep');
    return out;
  }

  #remember(key: string, iova: bigint): void {
    const list = this.#worked.get(key) ?? [];
    if (list.at(-1) !== iova) list.push(iova);
    if (list.length > HISTORY) list.shift();
    this.#worked.set(key, list);
  }
}

function hashOf(seed: number, text: string): number {
  let h = (seed ^ 0x811c9dc5) >>> 0;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}
