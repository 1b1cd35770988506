/**
 * SMMUv3 register map (page 0 and page 1) and register fields, as arm-smmu-v3.h names them.
 * EVTQ/PRIQ PROD and CONS live in page 1 (offset 0x10000 + 0xA8 ...), as on real parts.
 */
export const ARM_SMMU_IDR0 = 0x0;
export const ARM_SMMU_IDR1 = 0x4;
export const ARM_SMMU_IDR2 = 0x8;
export const ARM_SMMU_IDR3 = 0xc;
export const ARM_SMMU_IDR4 = 0x10;
export const ARM_SMMU_IDR5 = 0x14;
export const ARM_SMMU_IIDR = 0x18;
export const ARM_SMMU_AIDR = 0x1c;
export const ARM_SMMU_CR0 = 0x20;
export const ARM_SMMU_CR0ACK = 0x24;
export const ARM_SMMU_CR1 = 0x28;
export const ARM_SMMU_CR2 = 0x2c;
export const ARM_SMMU_GBPA = 0x44;
export const ARM_SMMU_IRQ_CTRL = 0x50;
export const ARM_SMMU_IRQ_CTRLACK = 0x54;
export const ARM_SMMU_GERROR = 0x60;
export const ARM_SMMU_GERRORN = 0x64;
export const ARM_SMMU_GERROR_IRQ_CFG0 = 0x68;
export const ARM_SMMU_STRTAB_BASE = 0x80;
export const ARM_SMMU_STRTAB_BASE_CFG = 0x88;
export const ARM_SMMU_CMDQ_BASE = 0x90;
export const ARM_SMMU_CMDQ_PROD = 0x98;
export const ARM_SMMU_CMDQ_CONS = 0x9c;
export const ARM_SMMU_EVTQ_BASE = 0xa0;
export const ARM_SMMU_EVTQ_PROD = 0x100a8;
export const ARM_SMMU_EVTQ_CONS = 0x100ac;
export const ARM_SMMU_EVTQ_IRQ_CFG0 = 0xb0;
export const ARM_SMMU_PRIQ_BASE = 0xc0;
export const ARM_SMMU_PRIQ_PROD = 0x100c8;
export const ARM_SMMU_PRIQ_CONS = 0x100cc;
export const ARM_SMMU_PRIQ_IRQ_CFG0 = 0xd0;

// IDR0
export const IDR0_ST_LVL_SHIFT = 27; // [28:27]
export const IDR0_ST_LVL_2LVL = 1;
export const IDR0_TERM_MODEL = 1 << 26;
export const IDR0_STALL_MODEL_SHIFT = 24; // [25:24]
export const IDR0_STALL_MODEL_STALL = 0;
export const IDR0_STALL_MODEL_NONE = 1;
export const IDR0_STALL_MODEL_FORCE = 2;
export const IDR0_TTENDIAN_SHIFT = 21; // [22:21]
export const IDR0_TTENDIAN_MIXED = 0;
export const IDR0_TTENDIAN_LE = 2;
export const IDR0_TTENDIAN_BE = 3;
export const IDR0_CD2L = 1 << 19;
export const IDR0_VMID16 = 1 << 18;
export const IDR0_PRI = 1 << 16;
export const IDR0_SEV = 1 << 14;
export const IDR0_MSI = 1 << 13;
export const IDR0_ASID16 = 1 << 12;
export const IDR0_ATS = 1 << 10;
export const IDR0_HYP = 1 << 9;
export const IDR0_HTTU_SHIFT = 6; // [7:6]
export const IDR0_HTTU_ACCESS = 1;
export const IDR0_HTTU_ACCESS_DIRTY = 2;
export const IDR0_BTM = 1 << 5;
export const IDR0_COHACC = 1 << 4;
export const IDR0_TTF_SHIFT = 2; // [3:2]
export const IDR0_TTF_AARCH64 = 2;
export const IDR0_S1P = 1 << 1;
export const IDR0_S2P = 1 << 0;

// IDR1
export const IDR1_TABLES_PRESET = 1 << 30;
export const IDR1_QUEUES_PRESET = 1 << 29;
export const IDR1_REL = 1 << 28;
export const IDR1_CMDQS_SHIFT = 21; // [25:21]
export const IDR1_EVTQS_SHIFT = 16; // [20:16]
export const IDR1_PRIQS_SHIFT = 11; // [15:11]
export const IDR1_SSIDSIZE_SHIFT = 6; // [10:6]
export const IDR1_SIDSIZE_SHIFT = 0; // [5:0]

// IDR3
export const IDR3_FWB = 1 << 8;
export const IDR3_RIL = 1 << 10;
export const IDR3_BBML_SHIFT = 11; // [12:11]

// IDR5
export const IDR5_STALL_MAX_SHIFT = 16; // [31:16]
export const IDR5_VAX_SHIFT = 10; // [11:10]
export const IDR5_GRAN64K = 1 << 6;
export const IDR5_GRAN16K = 1 << 5;
export const IDR5_GRAN4K = 1 << 4;
export const IDR5_OAS_SHIFT = 0; // [2:0]
/** IDR5.OAS / CD.IPS / VTCR.PS encodings → bits. */
export const OAS_BITS = [32, 36, 40, 42, 44, 48, 52] as const;

// CR0 / CR0ACK
export const CR0_SMMUEN = 1 << 0;
export const CR0_PRIQEN = 1 << 1;
export const CR0_EVTQEN = 1 << 2;
export const CR0_CMDQEN = 1 << 3;
export const CR0_ATSCHK = 1 << 4;

// CR2
export const CR2_E2H = 1 << 0;
export const CR2_RECINVSID = 1 << 1;
export const CR2_PTM = 1 << 2;

export const GBPA_UPDATE = 1 << 31;
export const GBPA_ABORT = 1 << 20;

export const IRQ_CTRL_GERROR_IRQEN = 1 << 0;
export const IRQ_CTRL_PRIQ_IRQEN = 1 << 1;
export const IRQ_CTRL_EVTQ_IRQEN = 1 << 2;

// GERROR / GERRORN: an error is active while the bits differ.
export const GERROR_SFM_ERR = 1 << 8;
export const GERROR_MSI_GERROR_ABT_ERR = 1 << 7;
export const GERROR_MSI_PRIQ_ABT_ERR = 1 << 6;
export const GERROR_MSI_EVTQ_ABT_ERR = 1 << 5;
export const GERROR_MSI_CMDQ_ABT_ERR = 1 << 4;
export const GERROR_PRIQ_ABT_ERR = 1 << 3;
export const GERROR_EVTQ_ABT_ERR = 1 << 2;
export const GERROR_CMDQ_ERR = 1 << 0;
export const GERROR_ERR_MASK = 0x1fd;

// STRTAB_BASE / _CFG
export const STRTAB_BASE_RA = 1n << 62n;
export const STRTAB_BASE_ADDR_MASK = ((1n << 52n) - 1n) & ~((1n << 6n) - 1n); // [51:6]
export const STRTAB_BASE_CFG_FMT_SHIFT = 16; // [17:16]
export const STRTAB_BASE_CFG_FMT_LINEAR = 0;
export const STRTAB_BASE_CFG_FMT_2LVL = 1;
export const STRTAB_BASE_CFG_SPLIT_SHIFT = 6; // [10:6]
export const STRTAB_BASE_CFG_LOG2SIZE_SHIFT = 0; // [5:0]

// Queue base registers and PROD/CONS.
export const Q_BASE_RWA = 1n << 62n;
export const Q_BASE_ADDR_MASK = ((1n << 52n) - 1n) & ~((1n << 5n) - 1n); // [51:5]
export const Q_BASE_LOG2SIZE_MASK = 0x1fn; // [4:0]
export const Q_OVERFLOW_FLAG = 1 << 31;
export const CMDQ_CONS_ERR_SHIFT = 24; // [30:24]
export const CMDQ_CONS_ERR_MASK = 0x7f << 24;
export const CMDQ_ERR_CERROR_NONE_IDX = 0;
export const CMDQ_ERR_CERROR_ILL_IDX = 1;
export const CMDQ_ERR_CERROR_ABT_IDX = 2;
export const CMDQ_ERR_CERROR_ATC_INV_IDX = 3;

export const CERROR_NAMES: Record<number, string> = {
  [CMDQ_ERR_CERROR_ILL_IDX]: 'CERROR_ILL',
  [CMDQ_ERR_CERROR_ABT_IDX]: 'CERROR_ABT',
  [CMDQ_ERR_CERROR_ATC_INV_IDX]: 'CERROR_ATC_INV_SYNC',
};

/** IOVA of the software MSI window Linux reserves for arm-smmu-v3 (MSI_IOVA_BASE, MSI_IOVA_LENGTH). */
export const MSI_IOVA_BASE = 0x8000000n;
export const MSI_IOVA_LENGTH = 0x100000n;
