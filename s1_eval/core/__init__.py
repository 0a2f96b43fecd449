"""The engine-agnostic forcing core: generation settings, the s1 format, steps, the forcing loop, sharing."""
