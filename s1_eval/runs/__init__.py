"""Run folders and results files: layout, settings of a grid point, locks, reading samples."""
