import type { DmaResult } from '../../actors/device.ts';
import type { Farm } from '../../actors/farm.ts';
import type { Host } from '../../actors/host.ts';
import { type Errno, IommufdError } from '../../actors/iommufd/errno.ts';
import type { IoctlName } from '../../actors/iommufd/ioctl-table.ts';
import type { Iommufd } from '../../actors/iommufd-file.ts';
import type { Process } from '../../actors/process.ts';
import type { IoctlInput } from '../../actors/uapi/ioctl-types.ts';
import type { VfioDevice, VfioIoctlName } from '../../actors/vfio/vfio-device.ts';
import { type Invariant, PropertyFailure } from '../invariants/invariant.ts';
import { areaAt } from '../model/areas.ts';
import { domainOf, hwptById } from '../model/graph.ts';
import type { Model, Window } from '../model/model.ts';
import { type Coverage, type PathName, SYNC_OPCODES } from '../runner/coverage.ts';
import { type CtxSnapshot, snapshotCtx } from '../snapshot.ts';
import { lit, outcomeComment } from './code.ts';
import { type DmaRequestModel, judgeDma } from './dma-oracle.ts';
import { deliver, drive, settle } from './drive.ts';
import type { StepRecord } from './step.ts';
import { writeData } from './tags.ts';

export type CallResult =
  | { readonly ok: true; readonly out: Record<string, unknown> }
  | { readonly ok: false; readonly errno: string | undefined };

/** A DMA issued by a command; it completes whenever the fabric delivers it. */
export interface DmaHandle {
  readonly varName: string;
  readonly promise: Promise<DmaResult>;
  /** An invalidation was issued while it was in flight (coverage only). */
  raced?: boolean;
}

/**
 * The real side of a model run: one farm built from a topology (autoRun off, so the property
 * decides when messages are delivered), the handles commands act on, and a transcript that
 * replays as a standalone script. Every step is checked against the invariants when it ends.
 */
export class World {
  readonly fds = new Map<number, Iommufd>();
  /** Closed ctxs, kept so invariants can check that closing freed everything. */
  readonly closed = new Map<number, Iommufd>();
  readonly vfio = new Map<number, VfioDevice>();
  readonly header: string[] = [];
  readonly steps: StepRecord[] = [];
  readonly inflight = new Set<DmaHandle>();
  /** Ctx key → index of the process that opened it (for transcript names after close). */
  readonly ctxProc = new Map<number, number>();
  /** Take snapshots around calls (errno atomicity needs them; they cost). */
  snapshotCalls = true;
  /** Where reached paths and command outcomes are counted, if anyone asked. */
  coverage: Coverage | undefined;
  /** Random fail-nth (see `failNthInjector`): the n to arm for the next call, if any. */
  injectNth: (() => number | undefined) | undefined;
  #current: StepRecord;
  #issued = 0;
  #vars = new Set<string>();
  #calls = 0;
  #dmas = 0;

  constructor(
    readonly farm: Farm,
    readonly hosts: readonly Host[],
    readonly procs: readonly Process[],
    readonly model: Model,
    readonly invariants: readonly Invariant[],
  ) {
    this.#current = this.#newStep('setup');
  }

  get current(): StepRecord {
    return this.#current;
  }

  /** Appends a line to the current step's transcript. */
  line(code: string): void {
    this.#current.lines.push(code);
  }

  /** Marks a transcript variable as declared (by the setup). */
  declare(name: string): void {
    this.#vars.add(name);
  }

  /** `let x = …` the first time, `x = …` after (a handle reopened later). */
  assign(name: string, expr: string): void {
    this.line(`${this.#vars.has(name) ? '' : 'let '}${name} = ${expr};`);
    this.#vars.add(name);
  }

  hostVar(dev: number): string {
    return `h${this.model.devices[dev]!.host}`;
  }

  /**
   * Runs one command as a step: its calls and DMAs are recorded, then every invariant judges the
   * step; the first violation ends the run with a PropertyFailure.
   */
  async step(label: string, body: () => Promise<void>, verb?: string): Promise<void> {
    const step = this.#newStep(label);
    this.#current = step;
    const issued = this.#issued;
    try {
      await body();
    } catch (err) {
      if (PropertyFailure.is(err)) throw err;
      step.exception = err;
    } finally {
      this.model.window = undefined;
    }
    if (this.coverage && verb !== undefined) {
      const outcome = step.calls.some((c) => !c.ok)
        ? 'fail'
        : step.calls.length > 0 || this.#issued > issued
          ? 'ok'
          : 'noop';
      this.coverage.command(this.vendorOf(), verb, outcome);
    }
    this.judge(step);
  }

  /** The vendor a path is counted under: the device's, else the first IOMMU's of the topology. */
  vendorOf(dev?: number): string {
    if (dev !== undefined) return this.model.devices[dev]!.vendor;
    return this.model.topology.hosts[0]?.iommus[0]?.vendor ?? 'mock';
  }

  /** Counts a path of interest (no-op unless coverage is on). */
  note(path: PathName, dev?: number): void {
    this.coverage?.path(this.vendorOf(dev), path);
  }

  /** A queue traced a command: count it, and mark DMAs in flight as racing it if it invalidates. */
  noteCommand(iommu: string, opcode: string): void {
    if (!this.coverage) return;
    const vendor = this.model.topology.hosts.flatMap((h) => h.iommus).find((i) => i.name === iommu)?.vendor;
    this.coverage.path(vendor ?? this.vendorOf(), `inv:${opcode}`);
    if (SYNC_OPCODES.has(opcode)) return;
    for (const h of this.inflight) h.raced = true;
  }

  /** Checks the invariants against a finished step; a step that crashed the harness fails too. */
  judge(step: StepRecord): void {
    for (const inv of this.invariants) {
      const v = inv.check({ world: this, model: this.model, step });
      if (v) throw new PropertyFailure(v, step);
    }
    if (step.exception !== undefined) throw step.exception;
  }

  #newStep(label: string): StepRecord {
    const step: StepRecord = { index: this.steps.length, label, calls: [], dmas: [], expect: {}, lines: [] };
    this.steps.push(step);
    return step;
  }

  /** Snapshots of every open ctx, keyed by model ctx key. */
  snapshots(): Map<number, CtxSnapshot> {
    const out = new Map<number, CtxSnapshot>();
    for (const [key, fd] of this.fds) out.set(key, snapshotCtx(fd.ctx, fd.process));
    return out;
  }

  /** A typed iommufd ioctl on a ctx, driven to completion. */
  ioctl<N extends IoctlName>(
    ctx: number,
    name: N,
    fields: IoctlInput<N>,
    partialAllowed = false,
  ): Promise<CallResult> {
    const fd = this.fds.get(ctx)!;
    const v = `fd${this.model.ctxs.get(ctx)!.proc}`;
    return this.#call(
      name,
      `${v}.ioctl(${lit(name)}, ${lit(fields)})`,
      () => fd.ioctl(name, fields),
      partialAllowed,
    );
  }

  /** A VFIO cdev ioctl on a device's open cdev. */
  vfioIoctl<N extends VfioIoctlName>(dev: number, name: N, fields: IoctlInput<N>): Promise<CallResult> {
    const vdev = this.vfio.get(dev)!;
    return this.#call(name, `vd${dev}.ioctl(${lit(name)}, ${lit(fields)})`, () => vdev.ioctl(name, fields));
  }

  /** Any other awaited API call (close, ...), recorded like an ioctl. */
  action(label: string, expr: string, invoke: () => Promise<unknown>): Promise<CallResult> {
    return this.#call(label, expr, async () => {
      await invoke();
      return {};
    });
  }

  async #call(
    label: string,
    expr: string,
    invoke: () => Promise<Record<string, unknown>>,
    partialAllowed = false,
  ): Promise<CallResult> {
    const before = this.snapshotCalls ? this.snapshots() : new Map<number, CtxSnapshot>();
    const varName = `r${++this.#calls}`;
    const n = this.injectNth?.();
    let injected: Errno | undefined;
    if (n !== undefined) {
      this.line(`farm.failNth.arm(${n}, { skipCopyOut: true });`);
      const plain = invoke;
      invoke = async () => {
        this.farm.failNth.arm(n, { skipCopyOut: true });
        try {
          return await plain();
        } finally {
          injected = this.farm.failNth.disarm().injected?.errno;
          this.line('farm.failNth.disarm();');
        }
      };
    }
    try {
      const out = await drive(this.farm, Promise.resolve().then(invoke));
      this.line(`const ${varName} = await attempt(farm, ${expr}); // → ${outcomeComment(out)}`);
      this.#current.calls.push({ label, varName, ok: true });
      return { ok: true, out };
    } catch (err) {
      const after = this.snapshotCalls ? this.snapshots() : new Map<number, CtxSnapshot>();
      const errno = IommufdError.is(err) ? err.errno : undefined;
      const what = errno ?? `threw ${(err as Error)?.message ?? String(err)}`;
      this.line(`const ${varName} = await attempt(farm, ${expr}); // → ${what}`);
      this.#current.calls.push({
        label,
        varName,
        ok: false,
        ...(errno ? { errno } : { exception: err }),
        ...(injected ? { injected } : {}),
        before,
        after,
        partialAllowed,
      });
      return { ok: false, errno };
    }
  }

  /**
   * Issues a DMA; it is judged by the oracle the moment the fabric delivers it, against the
   * model as it is then (plus the in-flight window).
   */
  issueDma(req: DmaRequestModel & { readonly writer: number }): DmaHandle | undefined {
    const dev = this.model.devices[req.dev]!;
    const device = this.hosts[dev.host]!.device(dev.name);
    const data = req.op === 'write' ? writeData(req.writer, this.#dmas + 1, req.length) : undefined;
    const full: DmaRequestModel = { ...req, ...(data ? { data } : {}) };
    const fields = {
      op: req.op,
      iova: req.iova,
      length: req.length,
      ...(req.pasid === undefined ? {} : { pasid: req.pasid }),
    };
    let promise: Promise<DmaResult>;
    try {
      promise = device.dma({ ...fields, ...(data ? { data } : {}) });
    } catch (err) {
      this.line(`// ${dev.name}.dma(${lit(fields)}) refused: ${(err as Error).message}`);
      return undefined;
    }
    const varName = `dma${++this.#dmas}`;
    this.#issued++;
    const paths = this.coverage ? this.#dmaPaths(req) : [];
    // The data is shown as the call that makes it, so the script writes the same bytes.
    const made = data ? `, data: writeData(${req.writer}, ${this.#dmas}, ${req.length}) }` : ' }';
    this.line(
      `const ${varName} = ${this.hostVar(req.dev)}.device(${lit(dev.name)}).dma(${lit(fields).slice(0, -2)}${made});`,
    );
    const handle: DmaHandle = { varName, promise };
    this.inflight.add(handle);
    promise.then((result) => {
      this.inflight.delete(handle);
      for (const p of paths) if (result.ok || p === 'dma-old-mapping') this.note(p, req.dev);
      if (handle.raced) this.note('dma-race-invalidation', req.dev);
      const { kind, detail } = judgeDma(this.model, full, result, (proc, uva, length) =>
        this.#read(proc, uva, length),
      );
      this.#current.dmas.push({ varName, device: dev.name, req: full, ok: result.ok, verdict: kind, detail });
    });
    return handle;
  }

  /** Paths a DMA takes if it completes: PASID-tagged, through which kind of HWPT, at an old mapping. */
  #dmaPaths(req: DmaRequestModel): PathName[] {
    const m = this.model;
    const out: PathName[] = [];
    if (req.pasid !== undefined) out.push('pasid-dma');
    const d = domainOf(m, req.dev, req.pasid);
    const ctx = d && m.ctxs.get(d.ctx);
    const hwpt = ctx && hwptById(ctx, d.hwpt);
    if (hwpt?.kind === 'nested') out.push('dma-nested');
    else if (hwpt?.nestParent) out.push('dma-nest-parent');
    else if (hwpt && !hwpt.auto) out.push('dma-explicit-paging');
    const group = m.devices[req.dev]!.group;
    const key = req.pasid ?? -1;
    if (m.previous.some((p) => p.group === group && p.pasid === key && areaAt(p.areas, req.iova)))
      out.push('dma-old-mapping');
    return out;
  }

  /** Drives the farm until a DMA completed. */
  async awaitDma(h: DmaHandle): Promise<void> {
    await drive(this.farm, h.promise);
    this.line(`await attempt(farm, ${h.varName});`);
  }

  /** Delivers one fabric message chosen by position among the ready links. */
  async deliverOne(pick: number): Promise<void> {
    await deliver(this.farm, pick);
    this.line(`await deliver(farm, ${pick});`);
  }

  /** Runs the farm until nothing is in flight. */
  async settleAll(): Promise<void> {
    await settle(this.farm);
    this.line('await settle(farm);');
  }

  /** Runs `body` with `window` telling the oracle what a DMA may also see meanwhile. */
  async within<T>(window: Window, body: () => Promise<T>): Promise<T> {
    this.model.window = window;
    try {
      return await body();
    } finally {
      this.model.window = undefined;
    }
  }

  #read(proc: number, uva: bigint, length: number): Uint8Array | undefined {
    try {
      return this.procs[proc]!.read(uva, length);
    } catch {
      return undefined;
    }
  }
}
