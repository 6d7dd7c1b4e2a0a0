"""The Models tab: the library of bundled, user and opened model packages with their cards."""
