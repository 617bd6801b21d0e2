"""A custom `mlflow.pyfunc.PythonModel`: a nearest-centroid classifier written with numpy."""

import mlflow
import numpy as np
from common import FEATURES, args, data, run_id
from mlflow.models import infer_signature


class NearestCentroid(mlflow.pyfunc.PythonModel):
    def __init__(self, centroids, labels):
        self.centroids = centroids
        self.labels = labels

    def predict(self, context, model_input, params=None):
        points = model_input[FEATURES].to_numpy(dtype=float)
        distances = ((points[:, None, :] - self.centroids[None, :, :]) ** 2).sum(axis=2)
        return self.labels[distances.argmin(axis=1)]


a = args()
x, y = data(a)
labels = np.sort(y.unique())
centroids = np.stack([x[y.to_numpy() == label].to_numpy().mean(axis=0) for label in labels])
model = NearestCentroid(centroids, labels)
with mlflow.start_run(run_id=run_id()):
    mlflow.pyfunc.log_model(
        name="model",
        python_model=model,
        signature=infer_signature(x, model.predict(None, x)),
        pip_requirements=["numpy", "pandas"],
    )
