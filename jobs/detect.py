"""Shape "detection" over images: a model evaluation job with an ArrowMapper.

Each input is one image: a 32x32 grey NPY array holding a square, a circle or a cross
on a noisy background (``python -m jobs.detect images OUT_DIR``). The model is a small
NumPy softmax classifier over three features of the shape's mask; its weights file
ships in ``manifests/data/detect/model.npz`` (``python -m jobs.detect train`` remakes
it). Params: ``model`` (a path or ``s3://`` URI of the weights) and ``threshold`` (a
prediction less sure than this is labelled ``uncertain``). The mapper loads the model
once per worker in ``setup``; the reducer counts images per label.
"""

from __future__ import annotations

import argparse
import io
import os

import numpy as np

from engine import ArrowMapper, Reducer, fetch_file

LABELS = ("square", "circle", "cross")
UNCERTAIN = "uncertain"
SIZE = 32


def features(image: np.ndarray) -> np.ndarray:
    """[fill of the bounding box, fill of its four corner cells, fill of its centre cell]
    of the pixels brighter than mid-grey: a square fills its corners, a circle its box
    only partly, a cross neither its corners nor most of its box."""
    mask = image > 128
    rows, cols = np.flatnonzero(mask.sum(axis=1) >= 2), np.flatnonzero(mask.sum(axis=0) >= 2)
    if rows.size == 0 or cols.size == 0:
        return np.zeros(3)
    box = mask[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1].astype(float)
    h, w = box.shape
    ch, cw = max(1, h // 5), max(1, w // 5)
    corners = np.concatenate([box[:ch, :cw].ravel(), box[:ch, -cw:].ravel(),
                              box[-ch:, :cw].ravel(), box[-ch:, -cw:].ravel()])
    centre = box[2 * h // 5:3 * h // 5 + 1, 2 * w // 5:3 * w // 5 + 1]
    return np.array([box.mean(), corners.mean(), centre.mean()])


def load_model(path: str) -> dict[str, np.ndarray]:
    with np.load(path) as data:
        return {"weights": data["weights"], "bias": data["bias"]}


def classify(image: np.ndarray, model: dict[str, np.ndarray], threshold: float) -> tuple[str, float]:
    """(label, probability of the most likely class); ``uncertain`` below ``threshold``."""
    logits = model["weights"] @ features(image) + model["bias"]
    p = np.exp(logits - logits.max())
    p /= p.sum()
    best = int(p.argmax())
    return (LABELS[best] if p[best] >= threshold else UNCERTAIN), float(p[best])


def decode(content: bytes) -> np.ndarray:
    return np.load(io.BytesIO(content), allow_pickle=False)


class DetectShapes(ArrowMapper):
    input_format = "binary"
    output_schema = "path STRING, label STRING, score DOUBLE"

    def setup(self, ctx):
        self.model = load_model(fetch_file(ctx.params["model"]))
        self.threshold = float(ctx.params.get("threshold", 0.5))

    def map_batch(self, batch, ctx):
        import pyarrow as pa

        results = [classify(decode(content), self.model, self.threshold)
                   for content in batch.column("content").to_pylist()]
        return pa.RecordBatch.from_pydict({"path": batch.column("path"),
                                           "label": [label for label, _ in results],
                                           "score": [score for _, score in results]})


class CountLabels(Reducer):
    output_format = "csv"

    def reduce(self, df, ctx):
        return df.groupBy("label").count().orderBy("label")


# --- data and model ---------------------------------------------------------------

def draw(label: str, rng: np.random.Generator) -> np.ndarray:
    """A noisy 32x32 uint8 image of one shape at a random place and size."""
    image = rng.integers(0, 60, (SIZE, SIZE)).astype(np.int16)
    size = int(rng.integers(12, 24))
    top, left = (int(v) for v in rng.integers(1, SIZE - size - 1, 2))
    y, x = np.mgrid[0:size, 0:size]
    if label == "square":
        shape = np.ones((size, size), bool)
    elif label == "circle":
        r = (size - 1) / 2
        shape = (y - r) ** 2 + (x - r) ** 2 <= r * r
    else:
        t = max(2, size // 3)
        lo = (size - t) // 2
        shape = ((y >= lo) & (y < lo + t)) | ((x >= lo) & (x < lo + t))
    patch = image[top:top + size, left:left + size]
    patch[shape] = rng.integers(190, 256, int(shape.sum()))
    return image.clip(0, 255).astype(np.uint8)


def write_images(folder: str, count: int, seed: int = 11) -> list[str]:
    """``count`` images ``img-<n>-<label>.npy``, labels in turn (the name says the truth)."""
    os.makedirs(folder, exist_ok=True)
    rng, out = np.random.default_rng(seed), []
    for n in range(count):
        label = LABELS[n % len(LABELS)]
        path = os.path.join(folder, f"img-{n:05d}-{label}.npy")
        np.save(path, draw(label, rng), allow_pickle=False)
        out.append(path)
    return out


def train(path: str, samples: int = 600, seed: int = 3) -> dict[str, np.ndarray]:
    """Fit the softmax classifier by gradient descent on generated images; save it."""
    rng = np.random.default_rng(seed)
    x = np.array([features(draw(LABELS[i % 3], rng)) for i in range(samples)])
    y = np.eye(3)[[i % 3 for i in range(samples)]]
    weights, bias = np.zeros((3, 3)), np.zeros(3)
    for _ in range(3000):
        logits = x @ weights.T + bias
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        grad = (p - y) / samples
        weights -= 2.0 * grad.T @ x
        bias -= 2.0 * grad.sum(axis=0)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    np.savez(path, weights=weights, bias=bias)
    return {"weights": weights, "bias": bias}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m jobs.detect")
    sub = parser.add_subparsers(dest="command", required=True)
    img = sub.add_parser("images", help="write generated images")
    img.add_argument("folder")
    img.add_argument("--count", type=int, default=60)
    img.add_argument("--seed", type=int, default=11)
    tr = sub.add_parser("train", help="fit and save the model")
    tr.add_argument("path", nargs="?", default="manifests/data/detect/model.npz")
    args = parser.parse_args(argv)
    if args.command == "images":
        print(f"{len(write_images(args.folder, args.count, args.seed))} images in {args.folder}")
    else:
        train(args.path)
        print(f"model saved to {args.path}")


if __name__ == "__main__":
    main()
