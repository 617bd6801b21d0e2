"""A native LightGBM Booster (multi-class): its predict returns one probability per class."""

import lightgbm
import mlflow
from common import args, data, run_id
from mlflow.models import infer_signature

a = args()
x, y = data(a)
params = {"objective": "multiclass", "num_class": 3, "num_leaves": 15, "seed": 0, "verbose": -1}
booster = lightgbm.train(params, lightgbm.Dataset(x, label=y), num_boost_round=60)
with mlflow.start_run(run_id=run_id()):
    mlflow.lightgbm.log_model(booster, name="model", signature=infer_signature(x, booster.predict(x)))
