"""A plain scikit-learn regressor (no ColumnTransformer: it takes exactly its four features)."""

import mlflow
from common import args, data, run_id
from mlflow.models import infer_signature
from sklearn.linear_model import Ridge

a = args()
x, y = data(a)
model = Ridge(alpha=1.0).fit(x, y)
with mlflow.start_run(run_id=run_id()):
    mlflow.sklearn.log_model(model, name="model", signature=infer_signature(x, model.predict(x)))
