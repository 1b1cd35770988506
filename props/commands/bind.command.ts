import { domainOf } from '../model/graph.ts';
import type { Model } from '../model/model.ts';
import { ioasOfDomain } from '../world/dma-oracle.ts';
import type { World } from '../world/world.ts';
import { PropCommand } from './command.ts';
import { at, ctxOfProc, unboundDevicesNear } from './pick.ts';

/**
 * Opens the VFIO cdev of an unbound device on the process's host and binds it to the process's
 * iommufd (VFIO_DEVICE_BIND_IOMMUFD); the cdev is closed again if the bind fails. With `probe`,
 * the device then reads the first area of the domain its group is in: a device joining a group
 * another ctx owns must not reach that ctx's memory.
 */
export class BindCommand extends PropCommand<{ proc: number; dev: number; probe?: boolean }> {
  readonly verb = 'bind';

  check(m: Readonly<Model>): boolean {
    return ctxOfProc(m, this.args.proc) !== undefined && unboundDevicesNear(m, this.args.proc).length > 0;
  }

  async exec(m: Model, w: World): Promise<void> {
    const ctx = ctxOfProc(m, this.args.proc)!;
    const dev = at(unboundDevicesNear(m, this.args.proc), this.args.dev)!;
    const proc = w.procs[ctx.proc]!;
    const vdev = proc.openVfioDevice(dev.name);
    w.vfio.set(dev.index, vdev);
    w.assign(`vd${dev.index}`, `p${ctx.proc}.openVfioDevice(${JSON.stringify(dev.name).replace(/"/g, "'")})`);
    const fd = w.fds.get(ctx.key)!;
    const r = await w.vfioIoctl(dev.index, 'VFIO_DEVICE_BIND_IOMMUFD', { iommufd: fd.fd });
    if (r.ok) {
      ctx.devices.set(dev.index, Number(r.out.out_devid));
      dev.bound = ctx.key;
      const ref = this.args.probe ? ioasOfDomain(m, domainOf(m, dev.index, undefined)) : undefined;
      const area = ref && m.ctxs.get(ref.ctx)?.ioas.find((i) => i.id === ref.ioas)?.areas[0];
      if (area) {
        const h = w.issueDma({
          dev: dev.index,
          pasid: undefined,
          op: 'read',
          iova: area.iova,
          length: 4,
          writer: 0xff,
        });
        if (h) await w.awaitDma(h);
      }
      return;
    }
    await w.action('close', `vd${dev.index}.close()`, () => vdev.close());
    w.vfio.delete(dev.index);
  }
}
