"""Mentzer et al. 2018, "Conditional probability models for deep image compression" (CVPR 2018): learned centres, importance map, 3-D CNN context model."""
