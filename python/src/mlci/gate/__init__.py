"""The model gate: evaluating a candidate against the champion, its checks and its reports."""
