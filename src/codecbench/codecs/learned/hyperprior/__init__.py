"""The transform-coding family of Ballé et al.: factorized prior, scale hyperprior, mean-scale and autoregressive context models, and HiFiC's generator on them."""
