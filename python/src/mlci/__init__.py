"""mlci: CI/CD for machine-learning models on Jenkins.

Importing the package must stay cheap (the CLI starts on every pipeline step): nothing heavy
is imported here or at module level anywhere in the package.
"""

__version__ = "0.1.0"
