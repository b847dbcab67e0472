"""What every PyTorch learned codec shares: the plugin, rANS strings, weights files, complexity and adversarial losses (imports torch inside functions)."""
