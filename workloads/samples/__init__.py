"""Small seeded sample datasets, shipped so every example in the docs runs as written."""
