"""Connected components of an edge list, so that work over a graph (copy resolution, story clustering) is
grouped per component, which a runner spreads over its workers, instead of through one key."""
from __future__ import annotations

from collections.abc import Iterable

import apache_beam as beam


def _root(parent: dict[str, str], x: str) -> str:
    """The root of `x` in a union-find forest (with path halving); a new node is its own root."""
    parent.setdefault(x, x)
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


def union(parent: dict[str, str], a: str, b: str) -> None:
    """Join the trees of `a` and `b`; the smaller id becomes the root, so roots do not depend on edge order."""
    ra, rb = _root(parent, a), _root(parent, b)
    if ra != rb:
        parent[max(ra, rb)] = min(ra, rb)


def components(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """{node: the smallest node id of its connected component} for every node of the edges `pairs`."""
    parent: dict[str, str] = {}
    for a, b in pairs:
        union(parent, a, b)
    return {x: _root(parent, x) for x in parent}


class ConnectedComponentsFn(beam.CombineFn):
    """(node, node) edges -> {node: component id (its smallest node)}. Each worker joins its own edges into a
    forest; the forests are then merged, which touches each node once (ids only, no edge payload)."""

    def create_accumulator(self) -> dict[str, str]:
        return {}

    def add_input(self, parent: dict[str, str], edge: tuple[str, str]) -> dict[str, str]:
        union(parent, *edge)
        return parent

    def merge_accumulators(self, parents: Iterable[dict[str, str]]) -> dict[str, str]:
        parents = iter(parents)
        merged = next(parents)
        for parent in parents:
            for node, up in parent.items():
                union(merged, node, up)
        return merged

    def extract_output(self, parent: dict[str, str]) -> dict[str, str]:
        return {x: _root(parent, x) for x in parent}
