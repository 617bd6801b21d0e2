"""A scikit-learn 3-class classifier."""

import mlflow
from common import args, data, run_id
from mlflow.models import infer_signature
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

a = args()
x, y = data(a)
model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(x, y)
with mlflow.start_run(run_id=run_id()):
    mlflow.sklearn.log_model(model, name="model", signature=infer_signature(x, model.predict(x)))
