"""Contracts: the codec, dataset, metric and training contracts, the hook specifications, the plugin registry and the image and file policies every layer above relies on."""
