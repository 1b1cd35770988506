/**
 * Fault-injection switches of the AMD-Vi driver, settable at runtime
 * (`(iommu.driver as AmdViDriver).faults.skipIotlbInvalidation = true`). Each makes the driver
 * forget one step of the Linux sequence the way a real bug would, so that property suites can
 * show the stale DMA that follows.
 */
export interface AmdViFaults {
  /** Leave out INVALIDATE_IOMMU_PAGES (the IOTLB keeps the old translation). */
  skipIotlbInvalidation?: boolean;
  /** Leave out INVALIDATE_IOTLB_PAGES (the device ATC keeps it). */
  skipAtcInvalidation?: boolean;
  /** Do not queue COMPLETION_WAIT nor wait for it: unmap resolves before the hardware acted. */
  skipSync?: boolean;
  /** Invalidate DomainID + 1 instead of the domain's own tag. */
  wrongTag?: boolean;
  /** Leave out INVALIDATE_DEVTAB_ENTRY after writing a DTE (the DTE cache keeps the old one). */
  skipDteInvalidation?: boolean;
}

/**
 * The driver's switches, each also on when the farm-wide switch of the same bug is: property
 * suites flip `farm.faults`, unit tests may flip the driver's own.
 */
export function withFarmFaults(
  local: AmdViFaults,
  farm: {
    readonly skipIotlbInvalidation: boolean;
    readonly skipAtcInvalidation: boolean;
    readonly skipSync: boolean;
    readonly wrongInvalidationTag: boolean;
  },
): AmdViFaults {
  return {
    get skipIotlbInvalidation() {
      return local.skipIotlbInvalidation || farm.skipIotlbInvalidation;
    },
    set skipIotlbInvalidation(v) {
      local.skipIotlbInvalidation = v;
    },
    get skipAtcInvalidation() {
      return local.skipAtcInvalidation || farm.skipAtcInvalidation;
    },
    set skipAtcInvalidation(v) {
      local.skipAtcInvalidation = v;
    },
    get skipSync() {
      return local.skipSync || farm.skipSync;
    },
    set skipSync(v) {
      local.skipSync = v;
    },
    get wrongTag() {
      return local.wrongTag || farm.wrongInvalidationTag;
    },
    set wrongTag(v) {
      local.wrongTag = v;
    },
    get skipDteInvalidation() {
      return local.skipDteInvalidation;
    },
    set skipDteInvalidation(v) {
      local.skipDteInvalidation = v;
    },
  };
}
