import { fail } from '../actors/iommufd/errno.ts';
import type { StructLayout } from '../actors/iommufd/struct.ts';
import type { UserData, UserDataArray } from './driver.ts';

/**
 * `iommu_copy_struct_from_user`: a driver's copy of its user payload. A type mismatch, or a
 * length below the last mandatory field or above the struct, is EINVAL; a bad pointer EFAULT;
 * a short struct is zero-extended.
 */
export function copyDriverData<T extends object>(
  data: UserData,
  type: number,
  layout: StructLayout<T>,
  minField: keyof T & string,
): T {
  if (data.type !== type) fail('EINVAL', `data type ${data.type}, driver wants ${type}`);
  if (data.len < layout.offsetofend(minField) || data.len > layout.sizeof) {
    fail('EINVAL', `data_len ${data.len} outside [${layout.offsetofend(minField)}, ${layout.sizeof}]`);
  }
  return layout.decode(data.read());
}

/**
 * `iommu_copy_struct_from_user_array`: entry `i` of an invalidation array. The entry length may
 * differ from the kernel's struct: shorter is zero-extended, longer must be zero-padded (E2BIG).
 */
export function copyDriverArrayEntry<T extends object>(
  array: UserDataArray,
  type: number,
  layout: StructLayout<T>,
  minField: keyof T & string,
  i: number,
): T {
  if (array.type !== type) fail('EINVAL', `array type ${array.type}, driver wants ${type}`);
  if (array.entryLen < layout.offsetofend(minField)) fail('EINVAL', `entry_len ${array.entryLen} too short`);
  const bytes = array.entry(i);
  for (let b = layout.sizeof; b < bytes.length; b++) if (bytes[b] !== 0) fail('E2BIG', 'non-zero entry tail');
  return layout.decode(bytes);
}
