import { type IovaPick, resolveIova } from '../arbitraries/iova-range.ts';
import { domainOf } from '../model/graph.ts';
import { type AreaModel, type Model, RID } from '../model/model.ts';
import { ioasOfDomain } from '../world/dma-oracle.ts';
import type { World } from '../world/world.ts';
import { PropCommand } from './command.ts';
import { at, ownerProc } from './pick.ts';

export interface DmaArgs {
  dev: number;
  /** On a PASID-capable device: the attached PASID at this position (or this value if none is). */
  pasid: number | null;
  op: 'read' | 'write';
  target: IovaPick;
  length: number;
  /** Wait for completion, or leave it in flight (the fabric delivers it later). */
  wait: boolean;
}

/**
 * A DMA from any device (bound or not: an unbound device of an owned group shares its domain),
 * aimed relative to the areas of the domain it translates through. The oracle judges it on
 * delivery.
 */
export class DmaCommand extends PropCommand<DmaArgs> {
  readonly verb = 'dma';

  check(m: Readonly<Model>): boolean {
    return m.devices.length > 0;
  }

  async exec(m: Model, w: World): Promise<void> {
    // Devices that translate through some domain first: a DMA from a blocked device only faults.
    const reachable = m.devices.filter((d) => m.groups.get(d.group)!.domains.size > 0);
    // A PASID-tagged DMA comes from a device whose group has a PASID attached, if any has.
    const tagged = reachable.filter(
      (d) => d.pasid && [...m.groups.get(d.group)!.domains.keys()].some((p) => p !== RID),
    );
    const pool = this.args.pasid !== null && tagged.length > 0 ? tagged : reachable;
    const dev = at(pool.length > 0 ? pool : m.devices, this.args.dev)!;
    const pasids = [...m.groups.get(dev.group)!.domains.keys()].filter((p) => p !== RID);
    // A function cannot tag a PASID wider than its capability.
    const raw = this.args.pasid === null ? undefined : (at(pasids, this.args.pasid) ?? this.args.pasid);
    const pasid = dev.pasid && raw !== undefined && raw < 2 ** dev.pasidBits ? raw : undefined;
    const ref = ioasOfDomain(m, domainOf(m, dev.index, pasid));
    const areas: AreaModel[] = ref
      ? (m.ctxs.get(ref.ctx)?.ioas.find((i) => i.id === ref.ioas)?.areas ?? [])
      : [...m.ctxs.values()].flatMap((c) => c.ioas.flatMap((i) => i.areas));
    const length = this.args.length;
    const key = pasid ?? RID;
    const previous = m.previous
      .filter((p) => p.group === dev.group && p.pasid === key)
      .reverse()
      .flatMap((p) => p.areas);
    const iova =
      resolveIova(this.args.target, { areas, usable: [], unmapped: m.unmapped, previous }, BigInt(length)) &
      ~3n;
    const h = w.issueDma({
      dev: dev.index,
      pasid,
      op: this.args.op,
      iova,
      length,
      writer: ownerProc(m, dev.index),
    });
    if (h && this.args.wait) await w.awaitDma(h);
  }
}
