"""sneakyimport: hostile sample — imports forbidden modules by a name built at run time."""
