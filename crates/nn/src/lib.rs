//! Layers, losses, initialisers and data loading (not built yet: see the nn issue).
