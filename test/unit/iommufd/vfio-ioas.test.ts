/**
 * IOMMU_VFIO_IOAS (spec §2.9): the IOAS the VFIO type1 compat ioctls act on, catalogue 6.
 */
import { describe, expect, test } from 'vitest';
import {
  IOMMU_VFIO_IOAS_CLEAR,
  IOMMU_VFIO_IOAS_GET,
  IOMMU_VFIO_IOAS_SET,
  type Iommufd,
} from '../../../index.ts';
import { expectErrno, rawIoctl, setup } from './selftest-fixture.ts';

async function vfioIoas(fd: Iommufd, op: number, ioas_id = 0): Promise<number> {
  return (await fd.ioctl('IOMMU_VFIO_IOAS', { op, ioas_id })).ioas_id as number;
}

describe('IOMMU_VFIO_IOAS', () => {
  test('6 vfio_ioas: GET ENODEV, SET 0 ENOENT, SET, GET, CLEAR, GET ENODEV', async () => {
    const { fd } = await setup({ ioas: false });
    await expectErrno('ENODEV', vfioIoas(fd, IOMMU_VFIO_IOAS_GET));
    await expectErrno('ENOENT', vfioIoas(fd, IOMMU_VFIO_IOAS_SET, 0));
    const ioasId = (await fd.ioctl('IOMMU_IOAS_ALLOC', {})).out_ioas_id as number;
    await vfioIoas(fd, IOMMU_VFIO_IOAS_SET, ioasId);
    expect(await vfioIoas(fd, IOMMU_VFIO_IOAS_GET)).toBe(ioasId);
    await vfioIoas(fd, IOMMU_VFIO_IOAS_CLEAR);
    await expectErrno('ENODEV', vfioIoas(fd, IOMMU_VFIO_IOAS_GET));
  });

  test('__reserved is EOPNOTSUPP for every op and changes nothing', async () => {
    const { fd, ioasId } = await setup();
    for (const op of [IOMMU_VFIO_IOAS_GET, IOMMU_VFIO_IOAS_SET, IOMMU_VFIO_IOAS_CLEAR, 9]) {
      await expectErrno(
        'EOPNOTSUPP',
        rawIoctl(fd, 'IOMMU_VFIO_IOAS', { op, ioas_id: ioasId, __reserved: 1 }),
      );
    }
    expect(fd.ctx.vfioIoas).toBeUndefined();
  });

  test('an unknown op is EOPNOTSUPP', async () => {
    const { fd, ioasId } = await setup();
    await expectErrno('EOPNOTSUPP', vfioIoas(fd, 3, ioasId));
  });

  test('SET to a non-IOAS is ENOENT and keeps the previous compat IOAS', async () => {
    const { fd, ioasId, hwptId, stdevId } = await setup({ mockDomain: true });
    await vfioIoas(fd, IOMMU_VFIO_IOAS_SET, ioasId);
    await expectErrno('ENOENT', vfioIoas(fd, IOMMU_VFIO_IOAS_SET, hwptId));
    await expectErrno('ENOENT', vfioIoas(fd, IOMMU_VFIO_IOAS_SET, stdevId));
    expect(await vfioIoas(fd, IOMMU_VFIO_IOAS_GET)).toBe(ioasId);
  });

  test('SET replaces; GET writes ioas_id back', async () => {
    const { fd, ioasId } = await setup();
    const other = (await fd.ioctl('IOMMU_IOAS_ALLOC', {})).out_ioas_id as number;
    await vfioIoas(fd, IOMMU_VFIO_IOAS_SET, ioasId);
    await vfioIoas(fd, IOMMU_VFIO_IOAS_SET, other);
    const { out } = await rawIoctl(fd, 'IOMMU_VFIO_IOAS', { op: IOMMU_VFIO_IOAS_GET, ioas_id: 1234 });
    expect(out.ioas_id).toBe(other);
  });

  test('destroying the compat IOAS clears it; CLEAR with none set is fine', async () => {
    const { fd, ioasId } = await setup();
    await vfioIoas(fd, IOMMU_VFIO_IOAS_SET, ioasId);
    await fd.ioctl('IOMMU_DESTROY', { id: ioasId });
    await expectErrno('ENODEV', vfioIoas(fd, IOMMU_VFIO_IOAS_GET));
    await vfioIoas(fd, IOMMU_VFIO_IOAS_CLEAR);
    await expectErrno('ENODEV', vfioIoas(fd, IOMMU_VFIO_IOAS_GET));
  });

  test('the compat IOAS keeps no reference: it can still be destroyed', async () => {
    const { fd, ioasId } = await setup();
    await vfioIoas(fd, IOMMU_VFIO_IOAS_SET, ioasId);
    await fd.ioctl('IOMMU_DESTROY', { id: ioasId });
    await expectErrno('ENOENT', fd.ioctl('IOMMU_DESTROY', { id: ioasId }));
  });
});
