// The parsers of scripts/kernel_resources.js on known text: ptxas -v (copied from this
// machine's CUDA 13 ptxas), PTX entries, and disassembler listings in the layouts of
// `cuobjdump -sass` and `nvdisasm` (written after those layouts: no disassembler is
// installed here, so the SASS path has not yet read a real listing).
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";

const kr = require(path.join(__dirname, "..", "..", "..", "scripts", "kernel_resources.js")) as {
  parsePtxas(t: string): Record<string, { registers: number; smem: number; stack: number; spillStores: number; spillLoads: number }>;
  scanPtx(t: string): Record<string, Record<string, number>>;
  scanSass(t: string): Record<string, Record<string, number>>;
};

test("kernel-resources: ptxas -v lines give registers, shared memory, stack and spills per entry", () => {
  const text = [
    "ptxas info    : 0 bytes gmem",
    "ptxas info    : Compiling entry function '_Z4axpyPfS_' for 'sm_80'",
    "ptxas info    : Function properties for _Z4axpyPfS_",
    "    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads",
    "ptxas info    : Used 32 registers, used 0 barriers, 416 bytes cmem[0]",
    "ptxas info    : Compiling entry function '_Z4gemmPf' for 'sm_80'",
    "ptxas info    : Function properties for _Z4gemmPf",
    "    24 bytes stack frame, 16 bytes spill stores, 8 bytes spill loads",
    "ptxas info    : Used 255 registers, used 1 barriers, 8192 bytes smem, 400 bytes cmem[0]",
  ].join("\n");
  assert.deepEqual(kr.parsePtxas(text), {
    _Z4axpyPfS_: { registers: 32, smem: 0, stack: 0, spillStores: 0, spillLoads: 0 },
    _Z4gemmPf: { registers: 255, smem: 8192, stack: 24, spillStores: 16, spillLoads: 8 },
  });
});

test("kernel-resources: PTX instructions are counted inside their own .entry", () => {
  const text =
    ".visible .entry _Z1aPf(\n\tmma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%f1}, {%r1}, {%r2}, {%f1};\n" +
    "\tcp.async.ca.shared.global [%r3], [%rd1], 16;\n\tcp.async.commit_group;\n}\n" +
    ".visible .entry _Z1bPf(\n\tldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%r1, %r2, %r3, %r4}, [%r5];\n}\n";
  assert.deepEqual(kr.scanPtx(text), { _Z1aPf: { "mma.sync": 1, "cp.async": 2 }, _Z1bPf: { ldmatrix: 1 } });
});

test("kernel-resources: SASS opcodes per function from cuobjdump and nvdisasm listings", () => {
  const cuobjdump = [
    "\tcode for sm_80",
    "\t\tFunction : _Z1aPf",
    '\t.headerflags\t@"EF_CUDA_SM80 EF_CUDA_VIRTUAL_SM(EF_CUDA_SM80)"',
    "        /*0000*/                   IMAD.MOV.U32 R1, RZ, RZ, c[0x0][0x28] ;   /* 0x00000a00ff017624 */",
    "        /*0010*/                   LDGSTS.E.BYPASS.128 [R2], [R4.64] ;        /* 0x0000000004027fae */",
    "        /*0020*/                   LDGDEPBAR ;                               /* 0x00000000000079af */",
    "        /*0030*/                   DEPBAR.LE SB0, 0x0 ;                      /* 0x000080000000791a */",
    "        /*0040*/                   LDSM.16.MT88.4 R8, [R2] ;                 /* 0x000000000208783b */",
    "        /*0050*/                   HMMA.1684.F32.TF32 R4, R8, R12, R4 ;       /* 0x0000000c0804723c */",
    "        /*0060*/              @!P0 HMMA.16816.F32.BF16 R4, R8, R12, R4 ;     /* 0x0000000c0804723c */",
    "        /*0070*/                   EXIT ;                                    /* 0x000000000000794d */",
    "\t\t..........",
    "\t\tFunction : _Z1bPf",
    "        /*0000*/                   HGMMA.64x64x16.F32.BF16 R24, gdesc[UR4], RZ ; /* 0x0000000004187df3 */",
    "        /*0010*/                   EXIT ;",
  ].join("\n");
  const expected = { _Z1aPf: { LDGSTS: 1, LDGDEPBAR: 1, DEPBAR: 1, LDSM: 1, HMMA: 2 }, _Z1bPf: { HGMMA: 1 } };
  assert.deepEqual(kr.scanSass(cuobjdump), expected);
  const nvdisasm = [
    '\t.section\t.text._Z1aPf,"ax",@progbits',
    ".text._Z1aPf:",
    "        /*0000*/                   LDGSTS.E.BYPASS.128 [R2], [R4.64] ;",
    "        /*0010*/                   LDGDEPBAR ;",
    "        /*0020*/                   DEPBAR.LE SB0, 0x0 ;",
    "        /*0030*/                   LDSM.16.MT88.4 R8, [R2] ;",
    "        /*0040*/                   HMMA.1684.F32.TF32 R4, R8, R12, R4 ;",
    "        /*0050*/              @!P0 HMMA.16816.F32.BF16 R4, R8, R12, R4 ;",
    ".text._Z1bPf:",
    "        /*0000*/                   HGMMA.64x64x16.F32.BF16 R24, gdesc[UR4], RZ ;",
  ].join("\n");
  assert.deepEqual(kr.scanSass(nvdisasm), expected);
});
