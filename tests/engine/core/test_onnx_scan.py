"""The torch-free, onnx-free ONNX scan: external data anywhere in a model, the graph's inputs and outputs."""

import numpy as np
import onnx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from engine.core.onnx_scan import OnnxFormatError, scan_onnx


def _graph(nodes, name="g", initializers=(), sparse=()):
    return helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, "N", 4])],
                             [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])], list(initializers),
                             sparse_initializer=list(sparse))


def _external(t: TensorProto, location: str = "/etc/passwd") -> TensorProto:
    t.data_location = TensorProto.EXTERNAL
    del t.external_data[:]
    t.external_data.add(key="location", value=location)
    t.ClearField("raw_data")
    return t


def _w(name="W"):
    return numpy_helper.from_array(np.ones((4, 4), np.float32), name)


def _bytes(model) -> bytes:
    return model.SerializeToString()


def test_plain_model_summary():
    m = helper.make_model(_graph([helper.make_node("MatMul", ["x", "W"], ["y"])], initializers=[_w()]))
    s = scan_onnx(_bytes(m))
    assert s.external == [] and s.initializers == {"W"}
    assert s.graph_inputs() == [("x", [1, "N", 4])] and s.outputs == [("y", [1, 4])]


def test_external_initializer_saved_by_onnx(tmp_path):
    m = helper.make_model(_graph([helper.make_node("MatMul", ["x", "W"], ["y"])], initializers=[_w()]))
    onnx.save(m, tmp_path / "m.onnx", save_as_external_data=True, location="w.bin", size_threshold=0)
    assert scan_onnx((tmp_path / "m.onnx").read_bytes()).external == ["W"]


def test_external_data_hidden_in_attributes_subgraphs_sparse_and_functions():
    const = helper.make_node("Constant", [], ["W"], value=_external(_w("k")))
    assert scan_onnx(_bytes(helper.make_model(_graph([const, helper.make_node("MatMul", ["x", "W"], ["y"])]))))\
        .external == ["k"]
    inner = _graph([helper.make_node("MatMul", ["x", "V"], ["y"])], "inner", initializers=[_external(_w("deep"))])
    if_node = helper.make_node("If", ["cond"], ["y"], then_branch=inner, else_branch=inner)
    assert scan_onnx(_bytes(helper.make_model(_graph([if_node])))).external == ["deep", "deep"]
    values = _external(numpy_helper.from_array(np.ones(2, np.float32), "sv"))
    sparse = helper.make_sparse_tensor(values, numpy_helper.from_array(np.array([0, 3], np.int64), "si"), [4])
    assert scan_onnx(_bytes(helper.make_model(_graph([], sparse=[sparse])))).external == ["sv"]
    fn = helper.make_function("local", "f", ["a"], ["b"],
                              [helper.make_node("Constant", [], ["b"], value=_external(_w("fk")))],
                              [helper.make_opsetid("", 18)])
    m = helper.make_model(_graph([helper.make_node("f", ["x"], ["y"], domain="local")]), functions=[fn])
    assert scan_onnx(_bytes(m)).external == ["fk"]
    # an external_data entry without the data_location flag is refused too
    t = _w("flagless")
    t.external_data.add(key="location", value="x.bin")
    assert scan_onnx(_bytes(helper.make_model(_graph([], initializers=[t])))).external == ["flagless"]


def test_not_onnx():
    for raw in (b"", b"\x00garbage" * 10, b"\x0a\xff\xff\xff\xff\x0f", b"\x3a\x05abc"):
        with pytest.raises(OnnxFormatError):
            scan_onnx(raw)


def test_nesting_is_capped():
    g = _graph([helper.make_node("MatMul", ["x", "W"], ["y"])])
    for _ in range(25):  # 3 message levels each (graph, node, attribute); protobuf itself stops near 100
        g = _graph([helper.make_node("If", ["c"], ["y"], then_branch=g)])
    with pytest.raises(OnnxFormatError, match="nested deeper"):
        scan_onnx(_bytes(helper.make_model(g)))


_MODEL = _bytes(helper.make_model(_graph([helper.make_node("MatMul", ["x", "W"], ["y"])], initializers=[_w()])))


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(_MODEL)), st.lists(st.tuples(st.integers(0, len(_MODEL) - 1), st.integers(0, 255)),
                                              max_size=4))
def test_damaged_bytes_never_raise_anything_else(cut, flips):
    raw = bytearray(_MODEL)
    for i, b in flips:
        raw[i] = b
    try:
        scan_onnx(bytes(raw[:cut]))
    except OnnxFormatError:
        pass
