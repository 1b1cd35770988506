/**
 * Every iommufd uAPI constant under its kernel name with its kernel value. Split by header so each
 * file stays one concept; import from here.
 */

export * from './uapi-ioctls.ts';
export * from './uapi-iommufd.ts';
export * from './uapi-objects.ts';
export * from './uapi-selftest.ts';
export * from './uapi-vfio.ts';
