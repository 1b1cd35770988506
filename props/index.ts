/**
 * iommu-farm/props: arbitraries, model commands, invariants and runners for property suites
 * over the farm, the same ones `iommu-farm props` runs across the vendor matrix.
 * @packageDocumentation
 * @module iommu-farm/props
 */

// Arbitraries
export { type DeliveryPlanConstraints, deliveryPlanArb } from './arbitraries/delivery-plan.ts';
export { type HwptFlagsConstraints, hwptFlagsArb } from './arbitraries/hwpt-flags.ts';
export {
  DEFAULT_IOVA_EDGES,
  deltaArb,
  type IovaConstraints,
  type IovaContext,
  type IovaEdge,
  type IovaPick,
  iovaPickArb,
  iovaRangeArb,
  resolveIova,
  U64_MAX,
} from './arbitraries/iova-range.ts';
export { type LengthConstraints, lengthArb } from './arbitraries/length.ts';
export { type MapFlagsConstraints, mapFlagsArb } from './arbitraries/map-flags.ts';
export { DEFAULT_PAGE_SIZES, type PageSizeConstraints, pageSizeArb } from './arbitraries/page-size.ts';
export { type PasidConstraints, pasidArb } from './arbitraries/pasid.ts';
export {
  type DeviceSpec,
  type HostSpec,
  type IommuSpec,
  type ProcessSpec,
  type TopologyConstraints,
  type TopologySpec,
  topologyArb,
} from './arbitraries/topology.ts';
export { type VendorConstraints, vendorArb } from './arbitraries/vendor.ts';
// Commands
export * from './commands/index.ts';
export { brokenTwins, faultApplies, INVARIANT_FAULTS } from './faults.ts';
// The fuzzer (syzkaller-style grammar over every ioctl, DMA oracle after every call)
export { callsFromJson, callsToJson, type FuzzCall } from './fuzz/call.ts';
export { type FuzzFinding, type FuzzOptions, type FuzzReport, runCampaign } from './fuzz/campaign.ts';
export { describeFinding, type Finding, type FindingKind, knownFinding, signature } from './fuzz/finding.ts';
export { apiOf, renderFuzzRepro, writeFuzzRepro } from './fuzz/repro.ts';
export { RIG_DEVICES, RIG_PROCESSES, Rig } from './fuzz/rig.ts';
export { replayCalls, Session as FuzzSession, type SessionOptions } from './fuzz/session.ts';
export { type Shrunk, shrinkCalls } from './fuzz/shrink.ts';
export { runWatched } from './fuzz/watchdog.ts';
// Invariants and broken twins
export * from './invariants/index.ts';
// Model
export type * from './model/model.ts';
export { initialModel } from './model/model.ts';
// Runners
export {
  type CheckOptions,
  type CheckReport,
  type Counterexample,
  checkProperty,
  failureOf,
  ranCommands,
} from './runner/check.ts';
export {
  type CommandTally,
  Coverage,
  exemptPaths,
  formatCoverage,
  INVALIDATIONS,
  PATHS,
  type PathName,
} from './runner/coverage.ts';
export {
  type Cell,
  type CellResult,
  cellSeed,
  type MatrixOptions,
  matrixCells,
  runMatrix,
} from './runner/matrix.ts';
export { modelProperty, type PropertyArgs, type PropertyOptions } from './runner/property.ts';
export {
  type Replay,
  type ReproMeta,
  readReproMeta,
  renderRepro,
  replay,
  writeRepro,
} from './runner/repro.ts';
export { runScenario, type Scenario, type ScenarioOptions, teardown } from './runner/scenario.ts';
export { COMMANDS, ScriptWorld, type ScriptWorldOptions } from './runner/script-world.ts';
export { type CtxSnapshot, type IoasSnapshot, snapshotCtx } from './snapshot.ts';
// Vendor profiles (nested HWPTs and their invalidations)
export { profileOf, type VendorProfile } from './vendors/profile.ts';
// The real side and reproduction helpers
export { buildWorld, FIXTURES, type Fixture, prepareWorld, type WorldOptions } from './world/build.ts';
export { type DmaVerdictKind, judgeDma } from './world/dma-oracle.ts';
export { attempt, deliver, drive, planPolicy, settle } from './world/drive.ts';
export { check, groupOwners, objects } from './world/script-helpers.ts';
export type { CallRecord, DmaRecord, StepRecord } from './world/step.ts';
export { BUFFER_BYTES, BUFFER_VA, fillBuffer, writeData } from './world/tags.ts';
export { World } from './world/world.ts';
