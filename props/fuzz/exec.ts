import type { IoctlName } from '../../actors/iommufd/ioctl-table.ts';
import { IommufdFile } from '../../actors/iommufd-file.ts';
import type { VfioIoctlName } from '../../actors/vfio/vfio-device.ts';
import { VfioDeviceFile } from '../../actors/vfio/vfio-device.ts';
import { type FuzzCall, type Payload, unhex } from './call.ts';
import { type Rig, SCRATCH_VA } from './rig.ts';
import { bounded } from './settle.ts';

export type Outcome =
  | { readonly ok: true; readonly out: unknown }
  | { readonly ok: false; readonly err: unknown };

/** The handle a call names does not exist: a broken replay, not a finding. */
export class ReplayError extends Error {}

/**
 * Executes one call on the rig, driving the farm until it and everything it set off settle
 * (bounded: a call that does not is a HangError). Never throws for the call's own failure.
 */
export async function execCall(rig: Rig, c: FuzzCall): Promise<Outcome> {
  try {
    const out = await bounded(
      rig.farm,
      Promise.resolve().then(() => invoke(rig, c)),
      label(c),
    );
    await releaseClosedCtxs(rig);
    return { ok: true, out };
  } catch (err) {
    await releaseClosedCtxs(rig).catch(() => undefined);
    return { ok: false, err };
  }
}

function label(c: FuzzCall): string {
  return 'name' in c ? c.name : c.k;
}

function place(rig: Rig, p: number, payload: Payload | undefined): void {
  if (payload) rig.procs[p]!.write(payload.va, unhex(payload.bytes));
}

async function invoke(rig: Rig, c: FuzzCall): Promise<unknown> {
  const proc = rig.procs[c.p] ?? fail(`no process ${c.p}`);
  switch (c.k) {
    case 'ioctl': {
      place(rig, c.p, c.payload);
      const fd = rig.iommufds[c.p]!.get(c.fd) ?? fail(`p${c.p} never opened iommufd ${c.fd}`);
      return fd.ioctl(c.name as IoctlName, c.fields as never);
    }
    case 'vfio': {
      const vd = rig.vfios[c.p]!.get(c.fd) ?? fail(`p${c.p} never opened VFIO fd ${c.fd}`);
      return vd.ioctl(c.name as VfioIoctlName, c.fields);
    }
    case 'raw': {
      place(rig, c.p, c.payload);
      if (c.struct !== undefined) {
        proc.write(SCRATCH_VA, new Uint8Array(4096));
        proc.write(SCRATCH_VA, unhex(c.struct));
      }
      const arg = c.arg === undefined ? SCRATCH_VA : c.arg;
      const file = proc.files.has(c.fd) ? proc.files.get(c.fd) : undefined;
      const vd = rig.vfios[c.p]!.get(c.fd);
      const fd = rig.iommufds[c.p]!.get(c.fd);
      if (vd && (file === vd.file || !(file instanceof IommufdFile) || !fd)) return vd.ioctlRaw(c.cmd, arg);
      if (fd) return fd.ioctlRaw(c.cmd, arg);
      return fail(`p${c.p} never opened fd ${c.fd}`);
    }
    case 'open': {
      if (c.what === 'iommufd') {
        const fd = proc.openIommufd();
        rig.iommufds[c.p]!.set(fd.fd, fd);
        return { fd: fd.fd };
      }
      const vd = proc.openVfioDevice(c.dev);
      rig.vfios[c.p]!.set(vd.fd, vd);
      return { fd: vd.fd };
    }
    case 'close': {
      const file = proc.files.get(c.fd);
      proc.close(c.fd);
      if (file instanceof VfioDeviceFile) await file.released;
      return {};
    }
    case 'read':
      return { bytes: proc.file(c.fd).read(c.count).length };
    case 'write':
      return { written: proc.file(c.fd).write(unhex(c.bytes)) };
    case 'poll':
      return { revents: proc.file(c.fd).poll() };
    case 'mmap': {
      const va = proc.mmap(c.length, { fd: c.fd, offset: c.offset, shared: true });
      try {
        proc.read(va, 8);
      } finally {
        proc.munmap(va, c.length);
      }
      return {};
    }
  }
}

/** A ctx whose last file went away is being released: that must finish too (and not throw). */
async function releaseClosedCtxs(rig: Rig): Promise<void> {
  for (const m of rig.iommufds) {
    for (const fd of m.values()) {
      if (fd.ctx.fileRefs !== 0 || RELEASED.has(fd.ctx)) continue;
      RELEASED.add(fd.ctx);
      await bounded(rig.farm, fd.ctx.whenClosed, 'ctx release');
    }
  }
}

const RELEASED = new WeakSet<object>();

function fail(message: string): never {
  throw new ReplayError(message);
}
