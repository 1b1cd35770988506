import type { DmaFault } from '../hardware.ts';

/**
 * Scalable-mode fault reasons (Linux `dma_remap_sm_fault_reasons`, VT-d spec table "Fault
 * reasons"). The codes the walk can produce, with the vendor-neutral class DmaFault carries.
 */
export const FR = {
  INVALID_ROOT_TABLE: 0x30,
  ROOT_ACCESS: 0x38,
  ROOT_P: 0x39,
  ROOT_RSVD: 0x3a,
  CTX_ACCESS: 0x40,
  CTX_P: 0x41,
  CTX_RSVD: 0x42,
  CTX_INVALID: 0x43,
  CTX_DTE: 0x44,
  CTX_PASIDE: 0x45,
  CTX_PASID_MAX: 0x46,
  CTX_PRE: 0x47,
  CTX_RID_PASID: 0x48,
  PDE_ACCESS: 0x50,
  PDE_P: 0x51,
  PDE_RSVD: 0x52,
  PTE_ACCESS: 0x58,
  PTE_P: 0x59,
  PTE_RSVD: 0x5a,
  PTE_INVALID: 0x5b,
  PTE_SRE: 0x5d,
  FS_ACCESS: 0x70,
  FS_P: 0x71,
  FS_RSVD: 0x72,
  FS_PML4_ACCESS: 0x73,
  NESTED_GPA_MAX: 0x74,
  NESTED_PML4_READ: 0x75,
  NESTED_FS_READ: 0x76,
  NESTED_FS_WRITE: 0x77,
  SS_ACCESS: 0x78,
  SS_RW: 0x79,
  SS_RSVD: 0x7a,
  SS_PTR: 0x7b,
  NON_CANONICAL: 0x80,
  US: 0x81,
  NO_EXEC: 0x82,
  BEYOND_MAX: 0x83,
  SS_BEYOND_MAX: 0x84,
  NO_WRITE: 0x85,
  NO_READ: 0x86,
} as const;

const NAMES: Record<number, string> = {
  48: 'SM: Invalid Root Table Address',
  56: 'SM: Error attempting to access Root Entry',
  57: 'SM: Present bit in Root Entry is clear',
  58: 'SM: Non-zero reserved field set in Root Entry',
  64: 'SM: Error attempting to access Context Entry',
  65: 'SM: Present bit in Context Entry is clear',
  66: 'SM: Non-zero reserved field set in the Context Entry',
  67: 'SM: Invalid Context Entry',
  68: 'SM: DTE field in Context Entry is clear',
  69: 'SM: PASID Enable field in Context Entry is clear',
  70: 'SM: PASID is larger than the max in Context Entry',
  71: 'SM: PRE field in Context-Entry is clear',
  72: 'SM: RID_PASID field error in Context-Entry',
  80: 'SM: Error attempting to access the PASID Directory Entry',
  81: 'SM: Present bit in Directory Entry is clear',
  82: 'SM: Non-zero reserved field set in PASID Directory Entry',
  88: 'SM: Error attempting to access PASID Table Entry',
  89: 'SM: Present bit in PASID Table Entry is clear',
  90: 'SM: Non-zero reserved field set in PASID Table Entry',
  91: 'SM: Invalid Scalable-Mode PASID Table Entry',
  93: 'SM: SRE field is clear in PASID Table Entry',
  112: 'SM: Error attempting to access first-level paging entry',
  113: 'SM: Present bit in first-level paging entry is clear',
  114: 'SM: Non-zero reserved field set in first-level paging entry',
  115: 'SM: Error attempting to access FL-PML4 entry',
  116: 'SM: First-level entry address beyond MGAW in Nested translation',
  117: 'SM: Read permission error in FL-PML4 entry in Nested translation',
  118: 'SM: Read permission error in first-level paging entry in Nested translation',
  119: 'SM: Write permission error in first-level paging entry in Nested translation',
  120: 'SM: Error attempting to access second-level paging entry',
  121: 'SM: Read/Write permission error in second-level paging entry',
  122: 'SM: Non-zero reserved field set in second-level paging entry',
  123: 'SM: Invalid second-level page table pointer',
  128: 'SM: Address in first-level translation is not canonical',
  129: 'SM: U/S set 0 for first-level translation with user privilege',
  130: 'SM: No execute permission for request with PASID and ER=1',
  131: 'SM: Address beyond the DMA hardware max',
  132: 'SM: Second-level entry address beyond the max',
  133: 'SM: No write permission for request',
  134: 'SM: No read permission for request',
};

export function faultReasonName(fr: number): string {
  return NAMES[fr] ?? 'SM: Unknown';
}

/** The vendor-neutral class of a fault reason. */
export function neutralReason(fr: number): DmaFault['reason'] {
  switch (fr) {
    case FR.ROOT_P:
    case FR.CTX_P:
    case FR.CTX_PASIDE:
    case FR.PDE_P:
    case FR.PTE_P:
      return 'blocked';
    case FR.FS_P:
    case FR.SS_RW:
    case FR.NESTED_PML4_READ:
    case FR.NESTED_FS_READ:
      return 'not-present';
    case FR.US:
    case FR.NO_EXEC:
    case FR.NO_WRITE:
    case FR.NO_READ:
    case FR.NESTED_FS_WRITE:
      return 'permission';
    case FR.NON_CANONICAL:
    case FR.BEYOND_MAX:
    case FR.SS_BEYOND_MAX:
    case FR.NESTED_GPA_MAX:
    case FR.CTX_PASID_MAX:
      return 'aperture';
    default:
      return 'bad-config';
  }
}
