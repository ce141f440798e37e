//! Optimizers with torch.optim semantics (not built yet: see the optim issue).
