import fc from 'fast-check';
import { hwptFlagsArb } from '../arbitraries/hwpt-flags.ts';
import { deltaArb, type IovaConstraints, iovaPickArb, U64_MAX } from '../arbitraries/iova-range.ts';
import { lengthArb } from '../arbitraries/length.ts';
import { mapFlagsArb } from '../arbitraries/map-flags.ts';
import { pasidArb } from '../arbitraries/pasid.ts';
import { BUFFER_BYTES } from '../world/tags.ts';
import { AccessCommand } from './access.command.ts';
import { AttachCommand } from './attach.command.ts';
import { BindCommand } from './bind.command.ts';
import { CloseCommand } from './close.command.ts';
import { PropCommand } from './command.ts';
import { CopyCommand } from './copy.command.ts';
import { DeliverCommand } from './deliver.command.ts';
import { DestroyCommand } from './destroy.command.ts';
import { DetachCommand } from './detach.command.ts';
import { DirtyCommand } from './dirty.command.ts';
import { DmaCommand } from './dma.command.ts';
import { HwptAllocCommand } from './hwpt-alloc.command.ts';
import { InvalidateCommand } from './invalidate.command.ts';
import { IoasAllocCommand } from './ioas-alloc.command.ts';
import { MapCommand } from './map.command.ts';
import { NestedAllocCommand } from './nested-alloc.command.ts';
import { OpenCommand } from './open.command.ts';
import { PrefillCommand } from './prefill.command.ts';
import { ReplaceCommand } from './replace.command.ts';
import { SettleCommand } from './settle.command.ts';
import { UnbindCommand } from './unbind.command.ts';
import { UnmapCommand } from './unmap.command.ts';

export {
  AccessCommand,
  AttachCommand,
  BindCommand,
  CloseCommand,
  CopyCommand,
  DeliverCommand,
  DestroyCommand,
  DetachCommand,
  DirtyCommand,
  DmaCommand,
  HwptAllocCommand,
  InvalidateCommand,
  IoasAllocCommand,
  MapCommand,
  NestedAllocCommand,
  OpenCommand,
  PrefillCommand,
  PropCommand,
  ReplaceCommand,
  SettleCommand,
  UnbindCommand,
  UnmapCommand,
};

export type CommandName =
  | 'ioasAlloc'
  | 'destroy'
  | 'hwptAlloc'
  | 'nestedAlloc'
  | 'invalidate'
  | 'map'
  | 'unmap'
  | 'copy'
  | 'bind'
  | 'unbind'
  | 'attach'
  | 'replace'
  | 'detach'
  | 'dma'
  | 'deliver'
  | 'settle'
  | 'open'
  | 'close'
  | 'prefill'
  | 'dirty'
  | 'access';

export interface CommandConstraints extends IovaConstraints {
  /** Relative weights; a command with weight 0 is never generated. */
  readonly weights?: Partial<Record<CommandName, number>>;
}

/**
 * Default weights: enough setup commands that DMA has something to hit. Tuned from
 * `iommu-farm props --coverage` (20 runs per cell, seed 1): at weight 1, prefill, dirty and
 * access reached unwind-partway 3-5, dirty-bitmap 0-3 and access-unmap-notify 0-1 times per
 * vendor in 140 runs, and DMA through a nested HWPT 0 times on the mock with 15 nested HWPTs
 * allocated, so those go up (and attach aims at HWPTs as often as at IOASes).
 */
export const DEFAULT_WEIGHTS: Readonly<Record<CommandName, number>> = {
  ioasAlloc: 2,
  destroy: 2,
  hwptAlloc: 3,
  nestedAlloc: 3,
  invalidate: 2,
  map: 7,
  unmap: 4,
  copy: 3,
  bind: 5,
  unbind: 1,
  attach: 6,
  replace: 2,
  detach: 1,
  dma: 8,
  deliver: 2,
  settle: 1,
  open: 1,
  close: 1,
  prefill: 2,
  dirty: 2,
  access: 3,
};

/** A position into live handles: 0 (the preferred one) half the time, else any. */
const pos = fc.oneof({ weight: 1, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.nat({ max: 7 }) });

/** One arbitrary per command kind, each producing command instances. */
export function commandArbs(
  constraints: CommandConstraints = {},
): Record<CommandName, fc.Arbitrary<PropCommand>> {
  const pick = iovaPickArb(constraints);
  const dmaPick = iovaPickArb({
    kindWeights: { area: 8, unmapped: 4, previous: 3, usable: 1, abs: 1 },
    ...constraints,
  });
  const delta = deltaArb(constraints.granules, 8);
  const flags = mapFlagsArb();
  // PASID attaches succeeded 1-4 times per vendor in 140 runs with a 1-in-5 PASID: now 1 in 3.
  const pasid = fc.oneof({ weight: 2, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: pasidArb() });
  const target = fc.record({
    kind: fc.oneof(
      { weight: 1, arbitrary: fc.constant('ioas' as const) },
      { weight: 1, arbitrary: fc.constant('hwpt' as const) },
    ),
    pos,
  });
  const offset = fc.oneof(
    { weight: 4, arbitrary: fc.nat({ max: 15 }).map((n) => BigInt(n) * 0x1000n) },
    { weight: 1, arbitrary: fc.constantFrom(0x800n, 4n, BigInt(BUFFER_BYTES) - 0x800n) },
  );
  return {
    ioasAlloc: fc.record({ proc: pos }).map((a) => new IoasAllocCommand(a)),
    destroy: fc
      .record({
        proc: pos,
        pos,
        id: fc.oneof(
          { weight: 6, arbitrary: fc.constant(undefined) },
          { weight: 1, arbitrary: fc.constantFrom(0, 1, 2, 5, 100) },
        ),
      })
      .map(({ id, ...a }) => new DestroyCommand(id === undefined ? a : { ...a, id })),
    hwptAlloc: fc
      .record({ proc: pos, ioas: pos, dev: pos, flags: hwptFlagsArb() })
      .map((a) => new HwptAllocCommand(a)),
    nestedAlloc: fc
      .record({ proc: pos, parent: pos, dev: pos, attach: fc.boolean() })
      .map((a) => new NestedAllocCommand(a)),
    invalidate: fc
      .record({ proc: pos, hwpt: pos, kind: fc.nat({ max: 3 }) })
      .map((a) => new InvalidateCommand(a)),
    map: fc
      .record({
        ioas: pos,
        offset,
        bogus: fc.oneof(
          { weight: 12, arbitrary: fc.constant(false) },
          { weight: 1, arbitrary: fc.constant(true) },
        ),
        length: lengthArb(constraints),
        iova: fc.oneof({ weight: 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: pick }),
        flags,
      })
      .map((a) => new MapCommand(a)),
    unmap: fc
      .record({
        ioas: pos,
        range: fc.oneof(
          {
            weight: 6,
            arbitrary: fc.record({
              kind: fc.constant('area' as const),
              pos,
              span: fc.nat({ max: 2 }),
              startDelta: delta,
              endDelta: delta,
            }),
          },
          { weight: 1, arbitrary: fc.constant({ kind: 'all' as const }) },
          {
            weight: 1,
            arbitrary: fc.record({
              kind: fc.constant('abs' as const),
              iova: fc.constantFrom(0n, 0x100_0000n, U64_MAX),
              length: fc.constantFrom(0n, 0x1000n, U64_MAX),
            }),
          },
        ),
        probe: fc.constantFrom('after' as const, 'none' as const, 'around' as const),
      })
      .map((a) => new UnmapCommand(a)),
    copy: fc
      .record({
        src: pos,
        dst: pos,
        area: pos,
        span: fc.nat({ max: 2 }),
        startDelta: delta,
        endDelta: delta,
        dstIova: fc.oneof({ weight: 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: pick }),
        flags,
      })
      .map((a) => new CopyCommand(a)),
    bind: fc.record({ proc: pos, dev: pos, probe: fc.boolean() }).map((a) => new BindCommand(a)),
    unbind: fc.record({ dev: pos }).map((a) => new UnbindCommand(a)),
    attach: fc.record({ dev: pos, target, pasid }).map((a) => new AttachCommand(a)),
    replace: fc
      .record({
        attachment: pos,
        target,
        elsewhere: fc.oneof(
          { weight: 2, arbitrary: fc.constant(true) },
          { weight: 1, arbitrary: fc.constant(false) },
        ),
        probe: fc.oneof(
          { weight: 2, arbitrary: fc.constant(true) },
          { weight: 1, arbitrary: fc.constant(false) },
        ),
      })
      .map((a) => new ReplaceCommand(a)),
    detach: fc.record({ attachment: pos }).map((a) => new DetachCommand(a)),
    dma: fc
      .record({
        dev: pos,
        pasid,
        op: fc.constantFrom('read' as const, 'write' as const),
        target: dmaPick,
        length: fc.constantFrom(4, 64, 256, 2048, 4096, 8192),
        wait: fc.oneof(
          { weight: 3, arbitrary: fc.constant(true) },
          { weight: 1, arbitrary: fc.constant(false) },
        ),
      })
      .map((a) => new DmaCommand(a)),
    deliver: fc.record({ pick: pos }).map((a) => new DeliverCommand(a)),
    settle: fc.constant(new SettleCommand({})),
    open: fc.record({ proc: pos }).map((a) => new OpenCommand(a)),
    close: fc.record({ proc: pos }).map((a) => new CloseCommand(a)),
    prefill: fc
      .record({
        proc: pos,
        areas: fc.integer({ min: 2, max: 4 }),
        pages: fc.constantFrom(4, 8),
        dev: pos,
        flags: hwptFlagsArb({ invalid: false }),
      })
      .map((a) => new PrefillCommand(a)),
    dirty: fc
      .record({
        proc: pos,
        hwpt: pos,
        op: fc.oneof(
          { weight: 2, arbitrary: fc.constant('enable' as const) },
          { weight: 1, arbitrary: fc.constant('disable' as const) },
          { weight: 3, arbitrary: fc.constant('read' as const) },
        ),
        area: pos,
        noClear: fc.boolean(),
      })
      .map((a) => new DirtyCommand(a)),
    access: fc
      .record({
        proc: pos,
        pos,
        op: fc.oneof(
          { weight: 2, arbitrary: fc.constant('create' as const) },
          { weight: 2, arbitrary: fc.constant('pin' as const) },
          // Unmaps after a pin were rare (0-1 notifications per vendor in 140 runs).
          { weight: 2, arbitrary: fc.constant('unmap' as const) },
          { weight: 1, arbitrary: fc.constant('close' as const) },
        ),
        area: pos,
        first: fc.nat({ max: 15 }),
        pages: fc.integer({ min: 1, max: 4 }),
      })
      .map((a) => new AccessCommand(a)),
  };
}

/** A weighted mix of every command kind, for `fc.commands`. */
export function commandArb(constraints: CommandConstraints = {}): fc.Arbitrary<PropCommand> {
  const arbs = commandArbs(constraints);
  const weights = { ...DEFAULT_WEIGHTS, ...constraints.weights };
  const entries = (Object.keys(arbs) as CommandName[])
    .filter((k) => weights[k] > 0)
    .map((k) => ({ weight: weights[k], arbitrary: arbs[k] }));
  return fc.oneof(...entries);
}
