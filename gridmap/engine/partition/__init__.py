"""Partition: cut a community's atom graph into contiguous grids within the population band.

``solve`` is the graph-level solver (:func:`partition_graph`): ``build`` makes a first plan,
``search`` scores parts, ``improve`` refines, ``exact`` searches small pieces exhaustively and
``pieces`` allocates grid counts to the graph's connected pieces. ``community`` turns a canvas
into that graph and the result back into a plan (:func:`partition_community`).
"""

from gridmap.engine.partition.community import (
    CommunityResult,
    partition_communities,
    partition_community,
)
from gridmap.engine.partition.solve import PartitionResult, n_parts_for, partition_graph

__all__ = [
    "CommunityResult",
    "PartitionResult",
    "n_parts_for",
    "partition_communities",
    "partition_community",
    "partition_graph",
]
