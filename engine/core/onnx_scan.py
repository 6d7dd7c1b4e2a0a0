"""What an ONNX file holds, read without onnx or onnxruntime (torch-free, numpy-free; the slim build has no
``onnx`` package): whether any tensor keeps its data in an external file, and the main graph's inputs and
outputs with their shapes.

onnxruntime reads a tensor marked ``data_location: EXTERNAL`` from whatever path the file names (relative to
the model, or absolute), so a model package could make it read any file on the machine. Scribe packages
embed their weights; :func:`scan_onnx` lets the runtime refuse every external reference *before* onnxruntime
sees the file, and lets the app check a package's graph against its card without starting a session.

It is a minimal walk over the protobuf wire format, following the message fields of ``onnx.proto`` (field
numbers below) that can hold tensors: graphs, nodes, attributes (tensors, subgraphs, sparse tensors),
functions and training info. Tensor payloads are skipped by length, never copied.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_NESTING = 64   # graphs within attributes within nodes within graphs ...


class OnnxFormatError(ValueError):
    """The bytes are not a well-formed ONNX model."""


@dataclass
class OnnxSummary:
    inputs: list[tuple[str, list]] = field(default_factory=list)    # (name, dims: int | str | None each)
    outputs: list[tuple[str, list]] = field(default_factory=list)
    initializers: set[str] = field(default_factory=set)             # main graph initializer names
    external: list[str] = field(default_factory=list)               # tensors with data in external files

    def graph_inputs(self) -> list[tuple[str, list]]:
        """Inputs a caller feeds (an initializer listed as an input has a default and is left out)."""
        return [(n, d) for n, d in self.inputs if n not in self.initializers]


# message kinds and, for each, {field number: child message kind} of the fields walked
_MODEL, _GRAPH, _NODE, _ATTR, _SPARSE, _FUNCTION, _TRAINING = range(7)
_CHILDREN = {
    _MODEL: {7: _GRAPH, 20: _TRAINING, 25: _FUNCTION},           # graph, training_info, functions
    _GRAPH: {1: _NODE, 15: _SPARSE},                             # node, sparse_initializer (+ 5 initializer)
    _NODE: {5: _ATTR},                                           # attribute
    _ATTR: {6: _GRAPH, 11: _GRAPH, 22: _SPARSE, 23: _SPARSE},    # g, graphs, sparse_tensor(s) (+ 5 t, 10 tensors)
    _SPARSE: {},                                                 # (+ 1 values, 2 indices)
    _FUNCTION: {7: _NODE, 11: _ATTR},                            # node, attribute_proto
    _TRAINING: {1: _GRAPH, 2: _GRAPH},                           # initialization, algorithm
}
_TENSOR_FIELDS = {_GRAPH: (5,), _ATTR: (5, 10), _SPARSE: (1, 2)}
_EXTERNAL = 1   # TensorProto.DataLocation.EXTERNAL


def _varint(buf, pos: int, end: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= end or shift > 63:
            raise OnnxFormatError("truncated or overlong varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7


def _fields(buf, start: int, end: int):
    """(field number, wire type, value) of a message: value is an int (varint), (start, end) of a
    length-delimited field, or None (fixed 32/64-bit)."""
    pos = start
    while pos < end:
        tag, pos = _varint(buf, pos, end)
        num, wire = tag >> 3, tag & 7
        if num == 0:
            raise OnnxFormatError("field number 0")
        if wire == 0:
            value, pos = _varint(buf, pos, end)
        elif wire == 2:
            n, pos = _varint(buf, pos, end)
            if pos + n > end:
                raise OnnxFormatError("a field runs past the end of its message")
            value, pos = (pos, pos + n), pos + n
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
            if pos > end:
                raise OnnxFormatError("a field runs past the end of its message")
            value = None
        else:
            raise OnnxFormatError(f"unsupported wire type {wire}")
        yield num, wire, value


def _str(buf, span) -> str:
    return bytes(buf[span[0]:span[1]]).decode("utf-8", "replace")


def _tensor(buf, span) -> tuple[str, bool]:
    """(name, keeps its data externally) of a TensorProto."""
    name, external = "", False
    for num, wire, v in _fields(buf, *span):
        if num == 8 and wire == 2:                       # name
            name = _str(buf, v)
        elif num == 14 and wire == 0 and v == _EXTERNAL:  # data_location
            external = True
        elif num == 13 and wire == 2:                    # external_data entries
            external = True
    return name, external


def _value_info(buf, span) -> tuple[str, list]:
    """(name, dims) of a ValueInfoProto: dims are ints, symbol strings, or None (unknown)."""
    name, dims = "", []
    for num, wire, v in _fields(buf, *span):
        if num == 1 and wire == 2:
            name = _str(buf, v)
        elif num == 2 and wire == 2:                     # type -> tensor_type -> shape -> dim
            for n2, w2, v2 in _fields(buf, *v):
                if n2 != 1 or w2 != 2:
                    continue
                for n3, w3, v3 in _fields(buf, *v2):
                    if n3 != 2 or w3 != 2:
                        continue
                    for n4, w4, v4 in _fields(buf, *v3):
                        if n4 != 1 or w4 != 2:
                            continue
                        dim = None
                        for n5, w5, v5 in _fields(buf, *v4):
                            if n5 == 1 and w5 == 0:
                                dim = v5
                            elif n5 == 2 and w5 == 2:
                                dim = _str(buf, v5)
                        dims.append(dim)
    return name, dims


def scan_onnx(data) -> OnnxSummary:
    """Summarise an ONNX model given as bytes (or any buffer: an mmap). OnnxFormatError if malformed."""
    buf = memoryview(data)
    if buf.ndim != 1 or buf.itemsize != 1:
        buf = buf.cast("B")
    out = OnnxSummary()
    stack = [(_MODEL, 0, len(buf), 0, False)]   # (kind, start, end, depth, is the main graph)
    graphs = 0
    while stack:
        kind, start, end, depth, main = stack.pop()
        children = _CHILDREN[kind]
        tensors = _TENSOR_FIELDS.get(kind, ())
        for num, wire, v in _fields(buf, start, end):
            if wire != 2:
                continue
            if num in tensors:
                name, external = _tensor(buf, v)
                if external:
                    out.external.append(name or "?")
                if main:
                    out.initializers.add(name)
            elif main and num in (11, 12):               # graph input, output
                (out.inputs if num == 11 else out.outputs).append(_value_info(buf, v))
            elif num in children:
                if depth >= MAX_NESTING:
                    raise OnnxFormatError(f"graphs nested deeper than {MAX_NESTING} levels")
                is_main = kind == _MODEL and num == 7
                graphs += is_main
                stack.append((children[num], v[0], v[1], depth + 1, is_main))
    if not graphs:
        raise OnnxFormatError("no graph")
    return out
