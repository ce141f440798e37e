//! Reverse-mode automatic differentiation on a graph-IR tape (not built yet: see the autograd issue).
