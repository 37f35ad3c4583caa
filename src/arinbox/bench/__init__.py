"""Micro-benchmarks of single pipeline stages (`arinbox bench ...`), one core, no graph around them."""
