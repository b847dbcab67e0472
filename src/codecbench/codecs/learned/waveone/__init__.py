"""WaveOne (Rippel & Bourdev 2017): pyramidal analysis, bitplane coding, adaptive codelength regularisation."""
