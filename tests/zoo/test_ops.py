"""Shared tensor helpers of the zoo."""

import numpy as np
import tensorflow as tf

from zoo import ops


def test_split_last_axis_traces_no_shape_ops_for_a_symbolic_batch():
    x = np.arange(24, dtype=np.float32).reshape(4, 6)
    np.testing.assert_array_equal(ops.split_last_axis(tf.constant(x), [3, 2]).numpy(), x.reshape(4, 3, 2))
    traced = tf.function(lambda t: ops.split_last_axis(t, [3, 2])).get_concrete_function(tf.TensorSpec([None, 6]))
    assert traced.output_shapes.as_list() == [None, 3, 2]
    # What a SavedModel signature runs per call in a sampling loop: the shape must be a constant.
    assert not [op for op in traced.graph.get_operations() if op.type == "Shape"]
    split = tf.function(lambda t: ops.split_last_axis(t, [3, 2]))
    two_unknown = split.get_concrete_function(tf.TensorSpec([None, None, 6]))
    assert two_unknown.output_shapes.as_list() == [None, None, 3, 2]
    np.testing.assert_array_equal(two_unknown(tf.constant(x[None])).numpy(), x.reshape(1, 4, 3, 2))
