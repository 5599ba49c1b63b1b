// Shared-memory tree reduction, the one every shader without subgroup arithmetic uses.
// Groups of GROUP consecutive invocations (a power of two) each reduce NV values: value v of
// the invocation at index `idx` (its `part`-th within its group) sits at BUF[v * STRIDE + idx].
// Afterwards the group's first invocation's slots hold the results. Every invocation of the
// workgroup must reach it (it has barriers). OP is a function or macro of two floats: max, or
// TREE_ADD.
#ifndef TREE_REDUCE_GLSL
#define TREE_REDUCE_GLSL
#define TREE_ADD(a, b) ((a) + (b))
#define TREE_REDUCE(BUF, idx, part, GROUP, NV, STRIDE, OP)                                    \
  for (uint tree_s_ = (GROUP) / 2u; tree_s_ > 0u; tree_s_ >>= 1) {                            \
    if ((part) < tree_s_)                                                                    \
      for (uint tree_v_ = 0u; tree_v_ < (NV); ++tree_v_)                                     \
        BUF[tree_v_ * (STRIDE) + (idx)] = OP(BUF[tree_v_ * (STRIDE) + (idx)],                  \
                                              BUF[tree_v_ * (STRIDE) + (idx) + tree_s_]);      \
    barrier();                                                                               \
  }
#endif
