"""Klopp et al. (BMVC 2018): autoencoder, multiscale code-space predictor, residual coded with a predicted distribution."""
