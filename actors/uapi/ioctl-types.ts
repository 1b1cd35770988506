/**
 * The argument and result types of every typed call, derived from the tables that drive the
 * marshaller: the struct layouts (IOCTLS, VFIO_*_IOCTLS), INOUT (outputs.ts), the pointer
 * fields' JS values (MARSHAL's type parameters) and the IOMMU_TEST_CMD op → member table.
 * `__u64` fields are `bigint`, narrower ones `number`; unknown field names do not typecheck.
 */
import type { IOCTLS, IoctlName } from '../iommufd/ioctl-table.ts';
import type { StructInput, ValueOf } from '../iommufd/struct.ts';
import type { TEST_CMD_MEMBER_BY_OP, TestCmdMembers, TestCmdOp } from '../iommufd/uapi-test-cmd.ts';
import type { MARSHAL, Marshal } from './marshal.ts';
import type { INOUT } from './outputs.ts';
import type { VFIO_COMPAT_IOCTLS, VFIO_DEVICE_IOCTLS } from './vfio-ioctls.ts';

type Tables = typeof IOCTLS & typeof VFIO_DEVICE_IOCTLS & typeof VFIO_COMPAT_IOCTLS;

/** Every name a typed call accepts. */
export type TypedIoctlName = keyof Tables;

/** The decoded argument struct of a call. */
export type ArgOf<N extends TypedIoctlName> = ValueOf<Tables[N]['layout']>;

type MarshalOf<N> = N extends keyof typeof MARSHAL ? (typeof MARSHAL)[N] : Marshal;
type PointerValues<N> = MarshalOf<N> extends Marshal<infer In, object> ? In : object;
type ExtraOutputs<N> = MarshalOf<N> extends Marshal<object, infer Out> ? Out : object;

/** One field as an input: nested structs partial, arrays and bytes as decoded. */
type FieldInput<V> = V extends Uint8Array | readonly unknown[] ? V : V extends object ? StructInput<V> : V;

/** Flattens an intersection, so editors and error messages show one object type. */
type Simplify<T> = { [K in keyof T]: T[K] } & {};

type StructCallInput<N extends TypedIoctlName> = Simplify<{
  [K in keyof ArgOf<N>]?: K extends keyof PointerValues<N>
    ? bigint | PointerValues<N>[K]
    : FieldInput<ArgOf<N>[K]>;
}>;

type TestCmdHeader = { size?: number; id?: number; __reserved?: number; last?: number };

/** IOMMU_TEST_CMD: one variant per op, carrying only the union member that op reads. */
export type TestCmdInput = {
  [O in TestCmdOp]: Simplify<
    TestCmdHeader & { op: O } & {
      [M in (typeof TEST_CMD_MEMBER_BY_OP)[O]]?: StructInput<TestCmdMembers[M]>;
    }
  >;
}[TestCmdOp];

/** The fields a typed call takes: the struct's, `size`/`argsz` optional (default sizeof). */
export type IoctlInput<N extends TypedIoctlName> = N extends 'IOMMU_TEST_CMD'
  ? TestCmdInput
  : StructCallInput<N>;

type InoutOf<N> = N extends keyof typeof INOUT ? (typeof INOUT)[N][number] : never;
type OutKeys<N extends TypedIoctlName> = Extract<keyof ArgOf<N>, `out_${string}` | InoutOf<N>>;

/** IOMMU_TEST_CMD returns the union member its op selected. */
export type TestCmdOutput = Partial<TestCmdMembers>;

/** What a typed call resolves to: the `out_*` and in-out fields, what the marshaller read back, and a non-zero return value. */
export type IoctlOutput<N extends TypedIoctlName> = N extends 'IOMMU_TEST_CMD'
  ? TestCmdOutput & { ret?: number }
  : Simplify<Pick<ArgOf<N>, OutKeys<N>> & ExtraOutputs<N> & { ret?: number }>;

export type { IoctlName };
