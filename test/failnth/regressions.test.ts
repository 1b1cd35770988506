/**
 * The unwind bugs fail-nth found, each pinned by the smallest injection that showed it. Each
 * test fails on the code before its fix.
 */
import { describe, expect, test } from 'vitest';
import type { HwptPaging } from '../../actors/iommufd/hwpt-paging.ts';
import type { FailKind } from '../../actors/runtime/fail-nth.ts';
import {
  IOMMU_HWPT_ALLOC_NEST_PARENT,
  IOMMU_HWPT_ALLOC_PASID,
  IOMMU_IOAS_MAP_FIXED_IOVA,
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_IOAS_MAP_WRITEABLE,
  IOMMU_VIOMMU_TYPE_SELFTEST,
  IommufdError,
  MOCK_APERTURE_START,
  VFIO_DEVICE_ATTACH_PASID,
} from '../../index.ts';
import type { PagingDomain, VendorName } from '../../vendors/driver.ts';
import { bind, type FailWorld, makeWorld, PAGE, plainStep } from './harness.ts';

const RW = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE;

/** Runs `op` with the n-th point of `kinds` failing; returns the point that failed. */
async function failAt(w: FailWorld, n: number, kinds: FailKind[], op: () => Promise<unknown>) {
  w.farm.failNth.arm(n, { kinds });
  const err = await op().then(
    () => undefined,
    (e: unknown) => e,
  );
  const { injected } = w.farm.failNth.disarm();
  if (injected) expect(IommufdError.is(err) && err.errno).toBe(injected.errno);
  else if (err) throw err;
  return injected;
}

/** A world with dev0 bound and attached to a fresh IOAS. */
async function attached(vendor: VendorName, opts: { pasidBits?: number } = {}) {
  const w = makeWorld(vendor, opts);
  const step = plainStep(w, []);
  const ioas = (await w.fd.ioctl('IOMMU_IOAS_ALLOC', {})).out_ioas_id as number;
  const devId = await bind(w, step, 0);
  await w.vfios[0]!.ioctl('VFIO_DEVICE_ATTACH_IOMMUFD_PT', { pt_id: ioas });
  const domain = () => {
    const hwpt = w.fd.ctx.liveObjects().find((o) => o.type === 'HWPT_PAGING') as HwptPaging;
    return hwpt.domain as PagingDomain;
  };
  return { w, step, ioas, devId, domain };
}

describe('fail-nth regressions', () => {
  test('bind: a failed object allocation gives the group DMA ownership back', async () => {
    const w = makeWorld('intel-vtd');
    const vdev = w.proc.openVfioDevice('dev0');
    const injected = await failAt(w, 1, ['alloc'], () =>
      vdev.ioctl('VFIO_DEVICE_BIND_IOMMUFD', { iommufd: w.fd.fd }),
    );
    expect(injected?.name).toBe('iommufd_object');
    expect(w.devs[0]!.kdev.group.owner).toBeUndefined();
    expect(w.fd.ctx.igroups.size).toBe(0);
    // Another process can now claim it (EBUSY while the ownership leaked).
    const other = w.host.spawnProcess({ name: 'other' });
    const fd2 = other.openIommufd();
    await other.openVfioDevice('dev0').ioctl('VFIO_DEVICE_BIND_IOMMUFD', { iommufd: fd2.fd });
  });

  test('IOAS_MAP: runs already mapped leave the domain when a later run fails', async () => {
    const { w, ioas, domain } = await attached('mock');
    // Touch two buffers alternately so the first one's frames are not physically contiguous.
    const a = w.proc.mmap(4n * PAGE);
    const b = w.proc.mmap(4n * PAGE);
    for (let i = 0n; i < 4n; i++) for (const base of [a, b]) w.proc.write(base + i * PAGE, Uint8Array.of(1));
    const iova = BigInt(MOCK_APERTURE_START);
    const map = () =>
      w.fd.ioctl('IOMMU_IOAS_MAP', {
        flags: RW | IOMMU_IOAS_MAP_FIXED_IOVA,
        ioas_id: ioas,
        user_va: a,
        length: 4n * PAGE,
        iova,
      });
    expect((await failAt(w, 2, ['driver'], map))?.name).toBe('map_pages');
    expect(domain().iovaToPhys(iova)).toBeUndefined();
    expect((await w.devs[0]!.dma({ op: 'read', iova, length: 8 })).ok).toBe(false);
    await map();
  });

  test.each(['mock', 'intel-vtd'] as const)(
    '%s map: a table allocation failing part-way leaves no IOPTE of the call behind',
    async (vendor) => {
      const { w, ioas, domain } = await attached(vendor);
      const buf = w.proc.mmap(2n * PAGE);
      w.proc.write(buf, new Uint8Array(Number(2n * PAGE)));
      // Straddles a 2 MiB boundary: VT-d needs a second leaf table for the second page; the
      // mock stores two 2 KiB IOPTEs per page.
      const iova = BigInt(MOCK_APERTURE_START) + (2n << 20n) - PAGE;
      const map = () =>
        w.fd.ioctl('IOMMU_IOAS_MAP', {
          flags: RW | IOMMU_IOAS_MAP_FIXED_IOVA,
          ioas_id: ioas,
          user_va: buf,
          length: 2n * PAGE,
          iova,
        });
      let failures = 0;
      for (let n = 1; await failAt(w, n, ['table'], map); n++) {
        failures++;
        expect(domain().iovaToPhys(iova), `n=${n}`).toBeUndefined();
        expect(domain().iovaToPhys(iova + PAGE), `n=${n}`).toBeUndefined();
      }
      expect(failures).toBeGreaterThan(1);
      expect(domain().iovaToPhys(iova + PAGE)).toBeDefined();
    },
  );

  test('intel-vtd probe: the PASID directory is freed when the context table cannot be', async () => {
    const w = makeWorld('intel-vtd');
    const devId = await bind(w, plainStep(w, []), 0);
    const ioas = (await w.fd.ioctl('IOMMU_IOAS_ALLOC', {})).out_ioas_id as number;
    const frames = w.host.phys.snapshot().allocatedFrames;
    const injected = await failAt(w, 2, ['table'], () =>
      w.fd.ioctl('IOMMU_HWPT_ALLOC', { dev_id: devId, pt_id: ioas }),
    );
    expect(injected?.name).toBe('vtd.context_table');
    expect(w.host.phys.snapshot().allocatedFrames).toBe(frames);
  });

  test.each(['amd-vi', 'arm-smmuv3'] as const)(
    '%s: a domain whose root table cannot be allocated gives its tag back',
    async (vendor) => {
      const w = makeWorld(vendor);
      const devId = await bind(w, plainStep(w, []), 0);
      const ioas = (await w.fd.ioctl('IOMMU_IOAS_ALLOC', {})).out_ioas_id as number;
      const alloc = () => w.fd.ioctl('IOMMU_HWPT_ALLOC', { dev_id: devId, pt_id: ioas });
      expect((await failAt(w, 1, ['table'], alloc))?.kind).toBe('table');
      const { out_hwpt_id } = await alloc();
      const domain = (w.fd.ctx.objects.get(out_hwpt_id as number) as HwptPaging).domain as unknown as {
        id?: number;
        asid?: number;
      };
      // The lowest tag, as if the failed allocation never happened.
      expect(domain.id ?? domain.asid).toBe(1);
    },
  );

  test('amd-vi PASID attach: a GCR3 root that cannot be allocated gives its DomainID back', async () => {
    const { w, ioas, devId } = await attached('amd-vi', { pasidBits: 8 });
    const hwpt = (
      await w.fd.ioctl('IOMMU_HWPT_ALLOC', { flags: IOMMU_HWPT_ALLOC_PASID, dev_id: devId, pt_id: ioas })
    ).out_hwpt_id as number;
    const drv = w.host.iommu(w.iommu).driver as unknown as {
      allocDomainId(): number;
      freeDomainId(id: number): void;
    };
    const nextId = () => {
      const id = drv.allocDomainId();
      drv.freeDomainId(id);
      return id;
    };
    const before = nextId();
    // The RID moving to a v2 (PASID-capable) domain sets up the device's GCR3 table.
    const attach = () => w.vfios[0]!.ioctl('VFIO_DEVICE_ATTACH_IOMMUFD_PT', { pt_id: hwpt });
    let sawRoot = false;
    for (let n = 1; ; n++) {
      const injected = await failAt(w, n, ['table'], attach);
      if (!injected) break;
      sawRoot ||= injected.name === 'amd.gcr3_root';
      expect(nextId(), `n=${n} ${injected.name}`).toBe(before);
    }
    expect(sawRoot).toBe(true);
    await w.vfios[0]!.ioctl('VFIO_DEVICE_ATTACH_IOMMUFD_PT', {
      flags: VFIO_DEVICE_ATTACH_PASID,
      pasid: 3,
      pt_id: hwpt,
    });
  });

  test('VIOMMU_ALLOC: a failed ID allocation takes no reference on the nest parent', async () => {
    const w = makeWorld('mock');
    const devId = await bind(w, plainStep(w, []), 0);
    const ioas = (await w.fd.ioctl('IOMMU_IOAS_ALLOC', {})).out_ioas_id as number;
    const parent = (
      await w.fd.ioctl('IOMMU_HWPT_ALLOC', {
        dev_id: devId,
        pt_id: ioas,
        flags: IOMMU_HWPT_ALLOC_NEST_PARENT,
      })
    ).out_hwpt_id as number;
    const injected = await failAt(w, 1, ['alloc'], () =>
      w.fd.ioctl('IOMMU_VIOMMU_ALLOC', { dev_id: devId, hwpt_id: parent, type: IOMMU_VIOMMU_TYPE_SELFTEST }),
    );
    expect(injected?.name).toBe('iommufd_object');
    // EBUSY forever while the failed vIOMMU's reference stayed.
    await w.fd.ioctl('IOMMU_DESTROY', { id: parent });
  });
});
