"""Training throughput of the model zoo on synthetic Criteo-shaped ids.

    python -m bench.train_throughput --model dcnv2 --embedding multi --scale 10 --steps 20 --json out.json
    python -m bench.train_throughput --sweep --steps 10 --json sweep.json

Reports examples/s (timed after one warm-up epoch of compiled train steps, Adam, batch 2048),
flops_per_example, gflops_per_sec = examples/s * flops_per_example / 1e9, peak_gflops (a float32
4096 x 4096 matmul through keras.ops in the same process) and utilization = gflops_per_sec / peak.

flops_per_example is counted from operand shapes: one forward pass on a single example runs with
`keras.ops.einsum` and `keras.ops.matmul` wrapped, each contraction adds 2 x (product of the sizes
of all its distinct indices), i.e. 2 x multiply-adds; the training step is taken as 3 x forward
(backward ~ 2 x forward). Elementwise ops, the embedding gather, softmax, BatchNorm, the optimizer
update and layers calling keras internals directly (the final Dense(1), 2 x 400 FLOPs) are not
counted, so utilization is a lower bound.
"""

import argparse
import contextlib
import json
import time

import keras
import numpy as np

from bench.criteo_shape import CRITEO_VOCABULARY, criteo_like_field_dims
from tf_multiemb import BACKBONES, build_model

SWEEP_SCALES = (1, 4, 10)
TRAINING_FLOPS_PER_FORWARD = 3


def einsum_flops(subscripts, *operands):
    """2 x multiply-adds of an einsum: product over every distinct index's size."""
    inputs = subscripts.replace(" ", "").split("->")[0].split(",")
    sizes = {}
    for labels, operand in zip(inputs, operands):
        for label, size in zip(labels, operand.shape):
            sizes[label] = int(size)
    return 2 * int(np.prod(list(sizes.values())))


def matmul_flops(a, b):
    return 2 * int(np.prod(a.shape)) * int(b.shape[-1])


@contextlib.contextmanager
def counting_contractions(counter):
    """Wraps keras.ops.einsum / matmul so every call adds its FLOPs to counter["flops"]."""
    original_einsum, original_matmul = keras.ops.einsum, keras.ops.matmul

    def einsum(subscripts, *operands, **kwargs):
        counter["flops"] += einsum_flops(subscripts, *operands)
        return original_einsum(subscripts, *operands, **kwargs)

    def matmul(a, b):
        counter["flops"] += matmul_flops(a, b)
        return original_matmul(a, b)

    keras.ops.einsum, keras.ops.matmul = einsum, matmul
    try:
        yield counter
    finally:
        keras.ops.einsum, keras.ops.matmul = original_einsum, original_matmul


def training_flops_per_example(model, num_fields):
    with counting_contractions({"flops": 0}) as counter:
        model(np.zeros((1, num_fields), dtype="int32"), training=False)
    return TRAINING_FLOPS_PER_FORWARD * counter["flops"]


def peak_gflops(size=4096, repeats=10):
    """Measured float32 matmul throughput (GFLOP/s) through keras.ops on the default device."""
    rng = np.random.default_rng(0)
    a = keras.ops.convert_to_tensor(rng.normal(size=(size, size)).astype("float32"))
    b = keras.ops.convert_to_tensor(rng.normal(size=(size, size)).astype("float32"))
    keras.ops.convert_to_numpy(keras.ops.matmul(a, b))
    start = time.perf_counter()
    product = a
    for _ in range(repeats):
        product = keras.ops.matmul(a, b)
    keras.ops.convert_to_numpy(product[:1, :1])
    return 2 * size**3 * repeats / (time.perf_counter() - start) / 1e9


def synthetic_batches(field_dims, batch_size, num_batches=4, seed=0):
    rng = np.random.default_rng(seed)
    ids = np.stack([rng.integers(0, d, size=batch_size * num_batches) for d in field_dims], axis=1).astype("int32")
    labels = rng.integers(0, 2, size=(batch_size * num_batches, 1)).astype("float32")
    return ids, labels


def measure(name, embedding, scale, vocab, batch_size, steps, peak):
    field_dims = criteo_like_field_dims(vocab)
    keras.utils.set_random_seed(0)
    model = build_model(name, field_dims, embedding=embedding, scale=scale)
    flops = training_flops_per_example(model, len(field_dims))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
    ids, labels = synthetic_batches(field_dims, batch_size)
    num_batches = len(ids) // batch_size

    def run(num_steps):
        for step in range(num_steps):
            index = step % num_batches
            loss = model.train_on_batch(ids[index * batch_size:(index + 1) * batch_size],
                                        labels[index * batch_size:(index + 1) * batch_size])
        return float(loss)  # forces the last step to finish

    run(2)  # compiles the train step
    start = time.perf_counter()
    run(steps)
    seconds = time.perf_counter() - start
    examples_per_sec = steps * batch_size / seconds
    gflops_per_sec = examples_per_sec * flops / 1e9
    return {
        "model": name, "embedding": embedding, "scale": scale, "vocab": vocab, "batch_size": batch_size,
        "steps": steps, "parameters": model.count_params(), "examples_per_sec": examples_per_sec,
        "flops_per_example": flops, "gflops_per_sec": gflops_per_sec, "peak_gflops": peak,
        "utilization": gflops_per_sec / peak,
    }


def markdown_table(rows):
    lines = ["| model | embedding | scale | params | examples/s | MFLOP/example | GFLOP/s | utilization |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['embedding']} | {r['scale']}x | {r['parameters'] / 1e6:.1f}M | "
                     f"{r['examples_per_sec']:,.0f} | {r['flops_per_example'] / 1e6:.2f} | "
                     f"{r['gflops_per_sec']:.1f} | {100 * r['utilization']:.2f}% |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Training throughput on synthetic Criteo-shaped ids.")
    parser.add_argument("--model", default="dcnv2", choices=sorted(BACKBONES))
    parser.add_argument("--embedding", default="single", choices=["single", "multi"])
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--vocab", type=int, default=CRITEO_VOCABULARY, help="sum of the 39 field cardinalities")
    parser.add_argument("--batch_size", type=int, default=2048)
    parser.add_argument("--steps", type=int, default=20, help="timed train steps (after 2 warm-up steps)")
    parser.add_argument("--json", help="write the results to this JSON file")
    parser.add_argument("--sweep", action="store_true",
                        help=f"every model x {{single, multi}} x scales {SWEEP_SCALES} (ignores --model/--embedding/--scale)")
    args = parser.parse_args(argv)

    peak = peak_gflops()
    configurations = ([(m, e, s) for m in BACKBONES for e in ("single", "multi") for s in SWEEP_SCALES]
                      if args.sweep else [(args.model, args.embedding, args.scale)])
    rows = []
    for name, embedding, scale in configurations:
        rows.append(measure(name, embedding, scale, args.vocab, args.batch_size, args.steps, peak))
        keras.backend.clear_session()
        print(markdown_table(rows[-1:]).splitlines()[-1], flush=True)
        if args.json:  # rewritten after every configuration so an interrupted sweep keeps its results
            with open(args.json, "w", encoding="utf-8") as output:
                json.dump(rows, output, indent=2)
    print(f"\npeak float32 matmul: {peak:,.0f} GFLOP/s ({keras.backend.backend()} backend)\n")
    print(markdown_table(rows))


if __name__ == "__main__":
    main()
