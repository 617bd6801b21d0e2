"""The model server that runs inside an mlci image: `mlci serve`.

One process, one model, the MLflow scoring protocol plus readiness, metrics and capture.
"""
