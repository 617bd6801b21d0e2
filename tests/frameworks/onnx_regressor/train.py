"""An ONNX model served through onnxruntime (the stand-in for deep-learning models): a
scikit-learn regressor converted with skl2onnx, logged with MLflow's onnx flavor."""

import mlflow
import numpy as np
from common import args, data, run_id
from mlflow.models import infer_signature
from skl2onnx import to_onnx
from sklearn.ensemble import GradientBoostingRegressor

a = args()
x, y = data(a)
features = x.astype(np.float32)
fitted = GradientBoostingRegressor(n_estimators=80, max_depth=3, random_state=0).fit(features, y)
onnx_model = to_onnx(fitted, features.to_numpy()[:1], target_opset=17)
with mlflow.start_run(run_id=run_id()):
    mlflow.onnx.log_model(
        # The signature takes the data as it comes (float64): MLflow's onnx flavor casts it to the
        # model's float32 inputs.
        onnx_model,
        name="model",
        signature=infer_signature(x, fitted.predict(features)),
    )
