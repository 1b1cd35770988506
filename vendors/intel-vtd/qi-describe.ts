import type { QiDesc } from './descriptors.ts';

/** One line per descriptor for the farm trace (`cmd` events), in Linux's field names. */
export function describeDescriptor(d: QiDesc): string {
  switch (d.type) {
    case 'cc':
      return `g=${d.g} did=${d.did} sid=0x${d.sid.toString(16)}`;
    case 'iotlb':
      return `g=${d.g} did=${d.did} addr=0x${d.addr.toString(16)} am=${d.am} ih=${d.ih ? 1 : 0}`;
    case 'p_iotlb':
      return `g=${d.g} did=${d.did} pasid=${d.pasid} addr=0x${d.addr.toString(16)} am=${d.am}`;
    case 'pc':
      return `g=${d.g} did=${d.did} pasid=${d.pasid}`;
    case 'dev_tlb':
      return `sid=0x${d.sid.toString(16)} addr=0x${d.addr.toString(16)} s=${d.s ? 1 : 0}`;
    case 'p_dev_tlb':
      return `sid=0x${d.sid.toString(16)} pasid=${d.pasid} addr=0x${d.addr.toString(16)} s=${d.s ? 1 : 0}`;
    case 'inv_wait':
      return `sw=${d.sw ? 1 : 0} if=${d.iflag ? 1 : 0} fn=${d.fn ? 1 : 0} pd=${d.pd ? 1 : 0}`;
    case 'pgrp_resp':
      return `rid=0x${d.rid.toString(16)} prg=${d.prgIndex} code=${d.code}`;
    default:
      return '';
  }
}
