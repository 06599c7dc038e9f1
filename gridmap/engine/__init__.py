"""The spatial engine: pure functions over GeoDataFrames and shapely arrays (no I/O)."""
