/**
 * Every uAPI struct layout, byte-exact with the kernel headers, under the kernel's struct name.
 * Split by header; import from here.
 */
import type { StructLayout } from './struct.ts';
import * as iommufd from './uapi-structs-iommufd.ts';
import * as selftest from './uapi-structs-selftest.ts';
import * as vendor from './uapi-structs-vendor.ts';
import * as vfio from './uapi-structs-vfio.ts';
import { iommu_test_cmd_raw } from './uapi-test-cmd.ts';

export * from './uapi-structs-iommufd.ts';
export * from './uapi-structs-selftest.ts';
export * from './uapi-structs-vendor.ts';
export * from './uapi-structs-vfio.ts';
export * from './uapi-test-cmd.ts';

/** All layouts by struct name, for generic tooling (dumpers, table-driven tests). */
export const UAPI_STRUCTS: Readonly<Record<string, StructLayout<object>>> = Object.freeze({
  ...iommufd,
  ...vendor,
  ...selftest,
  ...vfio,
  iommu_test_cmd: iommu_test_cmd_raw,
});
