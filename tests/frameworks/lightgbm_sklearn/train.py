"""LightGBM through its scikit-learn API (binary), logged with MLflow's lightgbm flavor."""

import lightgbm
import mlflow
from common import args, data, run_id
from mlflow.models import infer_signature

a = args()
x, y = data(a)
model = lightgbm.LGBMClassifier(n_estimators=60, num_leaves=15, random_state=0, verbose=-1).fit(x, y)
with mlflow.start_run(run_id=run_id()):
    mlflow.lightgbm.log_model(model, name="model", signature=infer_signature(x, model.predict(x)))
