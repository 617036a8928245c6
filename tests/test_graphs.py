"""Connected components of an edge list (transforms/graphs.py): pure union-find and the Beam CombineFn."""
import itertools

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from transforms.graphs import ConnectedComponentsFn, components

EDGES = [("b", "a"), ("c", "b"), ("x", "y"), ("e", "d"), ("d", "c"), ("z", "y")]
EXPECTED = {"a": "a", "b": "a", "c": "a", "d": "a", "e": "a", "x": "x", "y": "x", "z": "x"}


@pytest.mark.parametrize("order", list(itertools.islice(itertools.permutations(range(len(EDGES))), 0, 720, 97)))
def test_components_name_each_by_its_smallest_node_whatever_the_edge_order(order):
    assert components([EDGES[i] for i in order]) == EXPECTED


def test_no_edges_no_components():
    assert components([]) == {}


def test_combine_fn_merges_forests_built_apart():
    fn = ConnectedComponentsFn()
    parts = []
    for chunk in (EDGES[:2], EDGES[2:4], EDGES[4:]):  # as three workers would
        acc = fn.create_accumulator()
        for edge in chunk:
            acc = fn.add_input(acc, edge)
        parts.append(acc)
    assert fn.extract_output(fn.merge_accumulators(parts)) == EXPECTED


def test_combine_globally_in_a_pipeline():
    with TestPipeline() as p:
        got = p | beam.Create(EDGES) | beam.CombineGlobally(ConnectedComponentsFn())
        assert_that(got, equal_to([EXPECTED]))
