import type { Device } from '../device.ts';
import { type IommufdDevice, iommufdDeviceBind, iommufdDeviceUnbind } from '../iommufd/device.ts';
import {
  iommufdDeviceAttach,
  iommufdDeviceDetach,
  iommufdDeviceReplace,
  isAttached,
} from '../iommufd/device-attach.ts';
import { fail } from '../iommufd/errno.ts';
import {
  vfio_device_attach_iommufd_pt,
  vfio_device_bind_iommufd,
  vfio_device_detach_iommufd_pt,
} from '../iommufd/uapi-structs-vfio.ts';
import {
  VFIO_DEVICE_ATTACH_IOMMUFD_PT,
  VFIO_DEVICE_ATTACH_PASID,
  VFIO_DEVICE_BIND_FLAG_TOKEN,
  VFIO_DEVICE_BIND_IOMMUFD,
  VFIO_DEVICE_DETACH_IOMMUFD_PT,
  VFIO_DEVICE_DETACH_PASID,
} from '../iommufd/uapi-vfio.ts';
import { IommufdFile } from '../iommufd-file.ts';
import type { OpenFile } from '../mem/file-table.ts';
import type { Process } from '../process.ts';
import type { IoctlInput, IoctlOutput } from '../uapi/ioctl-types.ts';
import { typedFileIoctl } from '../uapi/typed-call.ts';
import { VFIO_DEVICE_IOCTLS, type VfioDeviceIoctlName } from '../uapi/vfio-ioctls.ts';

/** The typed calls of a VFIO device cdev. */
export type VfioIoctlName = VfioDeviceIoctlName;

/**
 * A VFIO device cdev (/dev/vfio/devices/vfioN) opened by a process: binds the device's DMA to
 * an iommufd and attaches it to IOAS/HWPTs. Closing it unbinds.
 */
export class VfioDeviceFile implements OpenFile {
  readonly kind = 'vfio-device';
  idev: IommufdDevice | undefined;
  #released: Promise<void> = Promise.resolve();
  #tail: Promise<unknown> = Promise.resolve();

  constructor(
    readonly process: Process,
    readonly device: Device,
  ) {}

  /** VFIO ioctls run one at a time per file, like the device's dev_set lock. */
  ioctl(cmd: number, arg: bigint | null): Promise<number> {
    const run = this.#tail.then(() => this.#dispatch(cmd, arg));
    this.#tail = run.catch(() => undefined);
    return run;
  }

  release(): void {
    const idev = this.idev;
    this.idev = undefined;
    if (idev) {
      this.#released = this.#tail.then(async () => {
        await iommufdDeviceUnbind(idev);
      });
    }
  }

  get released(): Promise<void> {
    return this.#released;
  }

  async #dispatch(cmd: number, arg: bigint | null): Promise<number> {
    switch (cmd) {
      case VFIO_DEVICE_BIND_IOMMUFD:
        return this.#bind(readArg(this.process, arg, vfio_device_bind_iommufd, 'out_devid'), arg!);
      case VFIO_DEVICE_ATTACH_IOMMUFD_PT:
        return this.#attach(readArg(this.process, arg, vfio_device_attach_iommufd_pt, 'pt_id'), arg!);
      case VFIO_DEVICE_DETACH_IOMMUFD_PT:
        return this.#detach(readArg(this.process, arg, vfio_device_detach_iommufd_pt, 'flags'));
      default:
        fail('ENOTTY', `unknown VFIO device ioctl 0x${cmd.toString(16)}`);
    }
  }

  /** `vfio_df_ioctl_bind_iommufd`. */
  #bind(b: ReturnType<typeof vfio_device_bind_iommufd.decode>, va: bigint): number {
    if (b.flags & ~VFIO_DEVICE_BIND_FLAG_TOKEN) fail('EINVAL', 'bind flags');
    if (this.idev) fail('EINVAL', 'already bound');
    let file: OpenFile;
    try {
      file = this.process.files.get(b.iommufd);
    } catch {
      fail('EBADF', `fd ${b.iommufd} is not open`);
    }
    if (!(file instanceof IommufdFile)) fail('EBADFD', `fd ${b.iommufd} is not an iommufd`);
    const idev = iommufdDeviceBind(file.ctx, this.device.kdev);
    try {
      this.process.mm.write(va + BigInt(vfio_device_bind_iommufd.offsetof('out_devid')), u32(idev.id));
    } catch (err) {
      void iommufdDeviceUnbind(idev);
      throw err;
    }
    this.idev = idev;
    return 0;
  }

  /** `vfio_df_ioctl_attach_pt`: a second attach on an attached device is a replace. */
  async #attach(a: ReturnType<typeof vfio_device_attach_iommufd_pt.decode>, va: bigint): Promise<number> {
    if (a.flags & ~VFIO_DEVICE_ATTACH_PASID) fail('EINVAL', 'attach flags');
    if (a.flags & VFIO_DEVICE_ATTACH_PASID && a.argsz < vfio_device_attach_iommufd_pt.offsetofend('pasid')) {
      fail('EINVAL', 'argsz too small for pasid');
    }
    const idev = this.#bound();
    const pasid = a.flags & VFIO_DEVICE_ATTACH_PASID ? a.pasid : undefined;
    const ptId = isAttached(idev, pasid)
      ? await iommufdDeviceReplace(idev, pasid, a.pt_id)
      : await iommufdDeviceAttach(idev, pasid, a.pt_id);
    this.process.mm.write(va + BigInt(vfio_device_attach_iommufd_pt.offsetof('pt_id')), u32(ptId));
    return 0;
  }

  async #detach(d: ReturnType<typeof vfio_device_detach_iommufd_pt.decode>): Promise<number> {
    if (d.flags & ~VFIO_DEVICE_DETACH_PASID) fail('EINVAL', 'detach flags');
    if (d.flags & VFIO_DEVICE_DETACH_PASID && d.argsz < vfio_device_detach_iommufd_pt.offsetofend('pasid')) {
      fail('EINVAL', 'argsz too small for pasid');
    }
    const idev = this.#bound();
    const pasid = d.flags & VFIO_DEVICE_DETACH_PASID ? d.pasid : undefined;
    await iommufdDeviceDetach(idev, pasid);
    return 0;
  }

  #bound(): IommufdDevice {
    if (!this.idev) fail('EINVAL', 'device is not bound to an iommufd');
    return this.idev;
  }
}

/** VFIO's argsz convention: `argsz < minsz` is EINVAL; a longer struct is accepted as is. */
function readArg<T extends { argsz: number }>(
  proc: Process,
  va: bigint | null,
  layout: { sizeof: number; offsetofend(f: never): number; decode(b: Uint8Array): T },
  minField: string,
): T {
  if (va === null) fail('EFAULT', 'NULL argument');
  const minsz = layout.offsetofend(minField as never);
  const head = layout.decode(proc.mm.read(va, minsz));
  if (head.argsz < minsz) fail('EINVAL', `argsz ${head.argsz} < ${minsz}`);
  return layout.decode(proc.mm.read(va, Math.min(head.argsz, layout.sizeof)));
}

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

/** A process's handle on an open VFIO device cdev. */
export class VfioDevice {
  constructor(
    readonly process: Process,
    readonly fd: number,
    readonly file: VfioDeviceFile,
  ) {}

  /** `vdev.ioctl('VFIO_DEVICE_BIND_IOMMUFD', { iommufd: fd })` → `{ out_devid }`. */
  ioctl<N extends VfioIoctlName>(name: N, fields: IoctlInput<N>): Promise<IoctlOutput<N>> {
    const call = typedFileIoctl(
      this.process.mm,
      VFIO_DEVICE_IOCTLS,
      name,
      fields as Record<string, unknown>,
      (cmd, va) => this.#ioctl(cmd, va),
    );
    return this.process.host.farm.scheduler.watch(name, call) as Promise<IoctlOutput<N>>;
  }

  /** ioctl(fd, cmd, arg) with `arg` a user VA (or null), exactly as C calls it. */
  ioctlRaw(cmd: number, arg: bigint | null): Promise<number> {
    const call = `ioctl(${this.fd}, 0x${cmd.toString(16)})`;
    return this.process.host.farm.scheduler.watch(call, this.#ioctl(cmd, arg));
  }

  #ioctl(cmd: number, arg: bigint | null): Promise<number> {
    this.process.checkFd(this.fd, this.file);
    return this.file.ioctl(cmd, arg);
  }

  async close(): Promise<void> {
    this.process.close(this.fd);
    await this.file.released;
  }
}
