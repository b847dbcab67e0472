"""Framework-free probability models of finite-alphabet symbols (binary codes, categorical codes)."""
