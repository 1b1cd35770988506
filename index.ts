/**
 * iommu-farm: a simulated multi-vendor IOMMU farm and the Linux iommufd stack that drives it.
 * @packageDocumentation
 * @module iommu-farm
 */

export { Device, type DmaRequestOptions, type DmaResult, type UnbackedAccess } from './actors/device.ts';
// The farm
export { type ActorInfo, createFarm, Farm, type FarmOptions } from './actors/farm.ts';
export { FileHandle } from './actors/file-handle.ts';
export {
  type AddDeviceOptions,
  type AddIommuOptions,
  Host,
  type HostOptions,
  type IommuHandle,
} from './actors/host.ts';
// Inspection: state charts of machines and live actors
export { CHART_FORMATS, type ChartFormat, type ChartOptions, chart } from './actors/inspect/chart/chart.ts';
export { type MachineType, machineType, machineTypes } from './actors/inspect/chart/machine-types.ts';
// Topologies: farms as YAML/JSON files with an optional scenario
export { type LoadTopologyOptions, loadTopology } from './actors/inspect/topology/build.ts';
export { topologyData, topologyToJson, topologyToYaml } from './actors/inspect/topology/data.ts';
export { parseTopology, TopologyError } from './actors/inspect/topology/parse.ts';
export { runScenario, type ScenarioOptions, type StepOutcome } from './actors/inspect/topology/scenario.ts';
export type { Step, Topology } from './actors/inspect/topology/schema.ts';
// Traces: JSONL recordings of farm.events$, replay, sequence diagrams
export { describeEvent, formatEvent } from './actors/inspect/trace/describe.ts';
export { traceHash } from './actors/inspect/trace/hash.ts';
export { type RecordedRun, type RecordOptions, recordRun } from './actors/inspect/trace/record.ts';
export { type Divergence, type ReplayResult, replayTrace } from './actors/inspect/trace/replay.ts';
export { type SequenceOptions, toSequenceDiagram } from './actors/inspect/trace/sequence.ts';
export {
  readTrace,
  TRACE_FORMAT_VERSION,
  type Trace,
  TraceError,
  type TraceHeader,
  traceText,
} from './actors/inspect/trace/trace-file.ts';
// Errors
export { ERRNO, type Errno, IommufdError } from './actors/iommufd/errno.ts';
export { IOCTL_TABLE, IOCTLS, type IoctlArg, type IoctlName } from './actors/iommufd/ioctl-table.ts';
// uAPI names and layouts (include/uapi/linux/iommufd.h, vfio.h, the selftest's iommufd_test.h)
export * from './actors/iommufd/uapi.ts';
export * from './actors/iommufd/uapi-structs.ts';
export { Iommufd, type IommufdIoctlName } from './actors/iommufd-file.ts';
export { PROT_EXEC, PROT_READ, PROT_WRITE } from './actors/mem/address-space.ts';
export { HPAGE_SIZE, PAGE_SIZE } from './actors/mem/page.ts';
export { Process, type ProcessOptions } from './actors/process.ts';
// Runtime
export { EventFd } from './actors/runtime/eventfd.ts';
export {
  type DeliveryCandidate,
  type DeliveryPolicy,
  fifoPolicy,
  seededPolicy,
} from './actors/runtime/fabric.ts';
export { FarmOptionError, FarmStalledError } from './actors/runtime/farm-errors.ts';
export type { FarmEvent, FarmEventType } from './actors/runtime/trace.ts';
export type {
  IoctlInput,
  IoctlOutput,
  TestCmdInput,
  TestCmdOutput,
  TypedIoctlName,
} from './actors/uapi/ioctl-types.ts';
export type { HwptData, InvalidateEntry, IovaRange, ViommuData } from './actors/uapi/marshal.ts';
export { VfioDevice, type VfioIoctlName } from './actors/vfio/vfio-device.ts';

// Vendors
export type { Domain, IommuDriver, NestedDomain, PagingDomain, VendorName } from './vendors/driver.ts';
export type { DmaFault, DmaRequest, IommuHardware } from './vendors/hardware.ts';
export { availableVendors, VENDORS } from './vendors/registry.ts';
