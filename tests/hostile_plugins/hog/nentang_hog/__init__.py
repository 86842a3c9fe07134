"""hog: hostile sample — allocates memory without bound."""
