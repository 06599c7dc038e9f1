"""The canvas: atoms (compounds, social units, groups of scattered buildings) and the cells that
tessellate a community, each cell belonging to one atom.

``inputs`` reads and clips a community's layers, ``split_units`` cuts units heavier than the
band's maximum, ``atoms`` groups buildings into atoms, ``cells`` tessellates, ``build`` puts it
together (:func:`build_canvas`).
"""

from gridmap.engine.canvas.build import ATOM_KINDS, Canvas, build_canvas

__all__ = ["ATOM_KINDS", "Canvas", "build_canvas"]
