"""MXNet script-mode entry point: logistic regression (Gluon) on the CSV channels.

Targets the AWS SageMaker MXNet image 1.9.0 (py38), the last one AWS released: MXNet is retired
(Apache attic, 2023) and the image is no longer patched. Self-contained: stdlib, numpy and mxnet
only. Exports model-symbol.json, model-0000.params and model-shapes.json to SM_MODEL_DIR, which
model_fn below loads (for the serving container and evaluate.py), and prints metrics as
`name=value;` for the tuning job's metric definitions.
"""

import json
import os
import sys
from typing import Any

import numpy as np

# name: (default, min, max); SageMaker passes every value as a string.
HYPERPARAMETERS = {"epochs": (200, 1, 10000), "learning_rate": (0.05, 1e-5, 1.0)}
# The tuning job's metric definitions (model_code/contract.py METRICS): print these names only.
METRICS = ("train:logloss", "validation:logloss", "validation:auc", "test:auc", "test:accuracy")


class InputError(ValueError):
    """Bad hyperparameters or channels: the job fails with this message."""


def hyperparameters() -> dict:
    values = {name: spec[0] for name, spec in HYPERPARAMETERS.items()}
    for name, raw in json.loads(os.environ.get("SM_HPS", "{}")).items():
        if name.startswith("sagemaker_") or name == "_tuning_objective_metric":
            continue  # added by the SageMaker SDK and toolkit
        if name not in HYPERPARAMETERS:
            raise InputError(f"{name}: unknown hyperparameter; known: {', '.join(HYPERPARAMETERS)}")
        default, low, high = HYPERPARAMETERS[name]
        try:
            values[name] = type(default)(float(raw))
        except ValueError:
            raise InputError(f"{name}: {raw!r} is not a number") from None
        if not low <= values[name] <= high:
            raise InputError(f"{name}: {raw!r} is out of range; allowed: {low} to {high}")
    return values


def load_channel(name: str, required: bool = True) -> Any:  # (features, labels) or None
    folder = os.environ.get("SM_CHANNEL_" + name.upper())
    files = sorted(os.path.join(d, f) for d, _, names in os.walk(folder or "") for f in names if f[0] not in "._")
    if not files and required:
        raise InputError(f"channel {name!r}: no files (SM_CHANNEL_{name.upper()}={folder})")
    parts = []  # type: list
    for path in files:
        with open(path) as handle:
            header = handle.readline().strip().split(",")
            try:
                data = np.loadtxt(handle, delimiter=",", ndmin=2, dtype=np.float32)
            except ValueError as err:
                raise InputError(f"channel {name!r}: {path} is not a numeric CSV: {err}") from None
        if "label" not in header or data.shape[0] == 0 or data.shape[1] != len(header):
            raise InputError(f"channel {name!r}: {path} needs a header with 'label' and rows as wide as it")
        if (parts and header != parts[0][0]) or not np.isin(data[:, header.index("label")], (0, 1)).all():
            raise InputError(f"channel {name!r}: {path}: other columns than {files[0]}, or labels not 0/1")
        parts.append((header, data))
    if not parts:
        return None
    data, label = np.concatenate([data for _, data in parts]), header.index("label")
    return np.delete(data, label, axis=1), data[:, label]


def auc(labels: np.ndarray, scores: np.ndarray) -> float:  # rank-sum formula; ties share their average rank
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2.0)[inverse.ravel()]
    pos, neg = int((labels == 1).sum()), int((labels == 0).sum())
    return float((ranks[labels == 1].sum() - pos * (pos + 1) / 2) / (pos * neg)) if pos and neg else float("nan")


def evaluation(channels: list, predict: Any) -> list:
    """[(metric, value)] for the (name, (features, labels)) channels given; None ones are skipped."""
    values = []
    for channel, (x, y) in [c for c in channels if c[1] is not None]:
        scores = np.asarray(predict(x), dtype=np.float64).reshape(-1)
        p = np.clip(scores, 1e-15, 1 - 1e-15)
        values += [(channel + ":logloss", float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))))]
        values += [(channel + ":auc", auc(y, scores)), (channel + ":accuracy", float(np.mean((scores >= 0.5) == y)))]
    return [(name, value) for name, value in values if name in METRICS]


def metric_line(values: list, epoch: Any = None) -> str:
    """`[epoch] name=value; ...`: exactly what the tuning job's metric regexes parse."""
    return ("" if epoch is None else f"[{epoch}] ") + " ".join(f"{name}={value:.6f};" for name, value in values)


def read_inputs() -> Any:
    """Hyperparameters and the train, validation and (optional) test channels; or the job fails."""
    try:
        inputs = hyperparameters(), load_channel("train"), load_channel("validation"), load_channel("test", False)
        if len({data[0].shape[1] for data in inputs[1:] if data is not None}) > 1:
            raise InputError("the channels have different numbers of feature columns")
        return inputs
    except InputError as err:
        print(f"training failed: {err}", file=sys.stderr)
        output = os.environ.get("SM_OUTPUT_DIR", "/opt/ml/output")
        os.makedirs(output, exist_ok=True)
        with open(os.path.join(output, "failure"), "w") as handle:  # SageMaker's FailureReason
            handle.write(str(err))
        sys.exit(2)


def main() -> None:
    import mxnet as mx
    from mxnet import autograd, gluon

    hp, train, validation, test = read_inputs()
    mx.random.seed(0)
    mean, std = train[0].mean(axis=0), train[0].std(axis=0) + 1e-6
    net = gluon.nn.HybridSequential()
    net.add(gluon.nn.Dense(1, in_units=train[0].shape[1]), gluon.nn.Activation("sigmoid"))
    net.initialize(mx.init.Normal(0.01))
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": hp["learning_rate"]})
    loss_fn = gluon.loss.SigmoidBinaryCrossEntropyLoss(from_sigmoid=True)
    x, y = mx.nd.array((train[0] - mean) / std), mx.nd.array(train[1]).reshape((-1, 1))
    scaled = [("validation", ((validation[0] - mean) / std, validation[1]))]
    for epoch in range(1, hp["epochs"] + 1):
        with autograd.record():
            loss = loss_fn(net(x), y)
        loss.backward()
        trainer.step(x.shape[0])
        if epoch % 10 == 0:
            print(metric_line(evaluation(scaled, lambda f: net(mx.nd.array(f)).asnumpy()), epoch))
    dense = net[0]  # fold the standardization into the layer: the model takes raw rows
    weight = dense.weight.data() / mx.nd.array(std)
    dense.weight.set_data(weight)
    dense.bias.set_data(dense.bias.data() - (weight * mx.nd.array(mean)).sum())
    channels = [("train", train), ("validation", validation), ("test", test)]
    print(metric_line(evaluation(channels, lambda f: net(mx.nd.array(f)).asnumpy())), flush=True)
    model_dir = os.environ.get("SM_MODEL_DIR", "/opt/ml/model")
    net.hybridize()
    net(mx.nd.array(train[0][:1]))  # export() needs one traced call
    net.export(os.path.join(model_dir, "model"))  # model-symbol.json, model-0000.params
    with open(os.path.join(model_dir, "model-shapes.json"), "w") as handle:
        json.dump([{"name": "data", "shape": [1, train[0].shape[1]]}], handle)


def model_fn(model_dir: str) -> Any:
    """Load main()'s exported symbol and params as a Gluon block (serving container, evaluate.py)."""
    import mxnet as mx

    symbol, params = os.path.join(model_dir, "model-symbol.json"), os.path.join(model_dir, "model-0000.params")
    return mx.gluon.SymbolBlock.imports(symbol, ["data"], params, ctx=mx.cpu())


def predict_proba(model: Any, features: np.ndarray) -> np.ndarray:
    """P(label 1) per row of `features` (the training columns in order, without the label)."""
    import mxnet as mx

    return model(mx.nd.array(features, dtype=np.float32)).asnumpy().reshape(-1)


if __name__ == "__main__":
    main()
